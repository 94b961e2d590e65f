"""What the linear PAFU runs of both tasks share: restarts, selector options, the training record."""
from __future__ import annotations

import logging

import torch

from .. import nets
from .records import portable
from .records import command as record_command

log = logging.getLogger("imgadapt.train")
DEFAULT_SCALES = (1.0, 0.7, 0.5, 0.35, 0.25)
MOSAIC_INPUT = {"channels": 1, "pattern": "RGGB", "multiple": 2, "range": "0-1 float, 8-bit trained"}


def best_of_restarts(args, train) -> tuple:
    """Selector training finds a local optimum that depends on the initial selector: train from
    ``--restarts`` initialisations on the same crops and keep the best by the training objective."""
    runs = []
    for restart in range(args.restarts):
        torch.manual_seed(args.seed + restart)
        candidate = nets.create(args.name, **selector_options(args),
                                **({"kernel_sizes": args.kernel_sizes} if args.kernel_sizes else {}))
        history = train(candidate)
        log.info("restart %d: train PSNR %.3f dB", restart, history[-1]["train_psnr"])
        runs.append((history[-1]["train_psnr"], restart, candidate, history))
    _, chosen, model, history = max(runs, key=lambda r: r[0])
    return model, history, {"restarts": args.restarts, "restart_train_psnr": [round(r[0], 4) for r in runs],
                            "chosen_restart": chosen}


def selector_options(args) -> dict:
    return {k: v for k, v in (("selector_channels", args.selector_channels), ("selector_depth", args.selector_depth))
            if v is not None}


def linear_train_record(args, argv, history, restarts: dict) -> dict:
    return {"command": record_command(argv), "data": portable(args.data), "seed": args.seed,
            "crops": args.crops, "patch": args.patch, "rounds": args.rounds,
            "selector_epochs": args.selector_epochs, "scales": list(args.scales),
            "balance": args.balance or None, "prune_below": args.prune_below or None, **restarts,
            "steps": f"{args.restarts} x ({args.rounds + 1} least-squares solves, {args.rounds} selector "
                     f"trainings of {args.selector_epochs} epochs over {args.crops} crops), best by training PSNR",
            "history": [{k: v for k, v in h.items() if k != "kernel_use"} for h in history],
            "kernel_use": history[-1]["kernel_use"]}


def linear_config(model) -> dict:
    return {"kernel_sizes": list(model.pafu.kernel_sizes), "selector_channels": model.pafu.selector_channels,
            "selector_depth": model.pafu.selector_depth}
