"""The super-resolution runs of ``imgadapt train``: train, export, verify, measure through the
runtime and ship the linear PAFU upscalers and the ESPCN networks."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from imgadapt.errors import InputValueError

from .. import nets
from ..onnx.ship import ship, write_card
from .data import load_folder
from .network import run_options
from .records import eval_rows, init_train, portable
from .records import command as record_command
from .runs import DEFAULT_SCALES, best_of_restarts, linear_config, linear_train_record

log = logging.getLogger("imgadapt.train")


def train_sr_linear(args, argv) -> dict:
    from .sr import train_pafu_linear_sr

    images = load_folder(args.data)
    scales = args.scales if args.scales != DEFAULT_SCALES else (1.0, 0.7, 0.5)
    model, history, restarts = best_of_restarts(args, lambda m: train_pafu_linear_sr(
        m, images, crops=args.crops, size=args.patch, rounds=args.rounds, selector_epochs=args.selector_epochs,
        seed=args.seed, scales=scales, balance=args.balance or None, prune_below=args.prune_below or None))
    cfg = linear_config(model)
    s = model.scale
    card = {
        **nets.get(args.name).card(model), "scale": s,
        "description": f"Linear PAFU x{s} super-resolution (a learned RAISR): per low-resolution pixel, a selector "
                       "on structure-tensor features picks one of a group of least-squares kernels that maps the "
                       f"pixel's neighbourhood to its {s * s} high-resolution sub-pixels.",
        "input": {"channels": 1, "colour": "luma (BT.601 Y); chroma by bicubic interpolation",
                  "range": "0-1 float, 8-bit trained"},
        "receptive_field": model.receptive_field,
        "train": {**linear_train_record(args, argv, history, restarts), "scales": list(scales)},
        "config": cfg,
    }
    return _ship_sr(model, card, args, cfg)


def train_sr_net(args, argv) -> dict:
    from .network import train_network
    from .sr import make_sr_dataset, solve_conv, sr_batches

    from ..nets.sr import PafuLinearSR

    config, plain = {}, "-plain-" in args.name
    if args.init and not plain:  # the linear path: a trained linear PAFU upscaler
        state = torch.load(args.init, weights_only=False)
        config["linear_kernel_sizes"] = list(state["config"]["kernel_sizes"])
    elif not plain:
        raise InputValueError(f"{args.name} starts from a trained linear PAFU upscaler: pass --init "
                              f"models/sr/pafu-linear-x{args.name[-1]}.pt")
    config.update({k: v for k, v in (("features", args.features), ("depth", args.depth)) if v})
    model = nets.create(args.name, **config)
    s = model.scale
    images = load_folder(args.data)
    scales = args.scales if args.scales != DEFAULT_SCALES else (1.0, 0.7, 0.5)
    size = args.patch - args.patch % s
    if plain:  # the linear path of the ablation: the least-squares 5x5 convolution, frozen like the PAFU one
        solve_conv(model.skip, *make_sr_dataset(images, args.crops, size, s, args.seed, scales))
        model.skip.weight.requires_grad_(False)
        if args.init:
            log.info("hidden layers from %s: %s", args.init, ", ".join(copy_hidden_layers(model, args.init)))
    else:
        linear = PafuLinearSR(s, **state["config"])
        linear.load_state_dict(state["state_dict"])
        model.init_from_linear(linear)
    log.info("%s: %d parameters, receptive field %d px", args.name, sum(p.numel() for p in model.parameters()),
             model.receptive_field)
    summary = train_network(model, images, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                            balance=args.balance or None, fixed_pafu=[] if plain else [model.skip.pafu], pad=args.pad,
                            batch_fn=sr_batches(images, args.batch, size, s, args.pad, scales),
                            checkpoint=Path(args.runs) / args.name / "checkpoint.pt", **run_options(args))
    summary.update(patch=size, scales=list(scales), pad_low_res=args.pad)
    for key in ("jitter", "exposure", "pad"):
        summary.pop(key, None)
    card = {
        **nets.get(args.name).card(model), "scale": s,
        "description": (f"Plain-convolution ablation of sr/pafu-espcn-x{s}: a 3x3 convolution in place of the PAFU "
                        "output, a least-squares 5x5 convolution as the linear path." if plain else
                        f"ESPCN-style x{s} super-resolution: a rectified 5x5-3x3-3x3 embedding (32 maps) of the "
                        "low-resolution luma and a PAFU output layer selecting among 16 3x3 kernels from the "
                        f"embeddings correct the linear PAFU upscaler (sr/pafu-linear-x{s}); depth-to-space."),
        "input": {"channels": 1, "colour": "luma (BT.601 Y); chroma by bicubic interpolation",
                  "range": "0-1 float, 8-bit trained"},
        "receptive_field": model.receptive_field,
        "train": {"command": record_command(argv, summary["steps"]), "data": portable(args.data), "seed": args.seed,
                  "linear_path": (f"least-squares 5x5 convolution over {args.crops} crops, frozen" if plain else
                                  f"{portable(args.init)}, frozen"),
                  **({"hidden_layers_from": portable(args.init), "init_train": init_train(args.init)}
                     if plain and args.init else {}), **summary},
    }
    return _ship_sr(model, card, args, config)


def copy_hidden_layers(model, path) -> list[str]:
    """Copy the embedding and hidden 3x3 convolutions of a trained plain super-resolution network
    (a shipped ``.pt``, usually of another scale; same features and depth) into ``model``; the linear
    path and the output layer, which depend on the scale, keep their own start. Returns the names
    copied."""
    state = torch.load(path, weights_only=False)
    arch = state.get("arch", "") if isinstance(state, dict) else ""
    if not arch.startswith("sr/pafu-espcn-plain-x") or "state_dict" not in state:
        raise InputValueError(f"--init {path}: expected a shipped plain super-resolution network "
                              f"(sr/pafu-espcn-plain-xS .pt), got {arch or 'another kind of file'}")
    own = model.state_dict()
    body = {k: v for k, v in state["state_dict"].items() if not k.startswith(("skip.", "out."))}
    mismatched = [k for k, v in body.items() if k not in own or own[k].shape != v.shape]
    missing = [k for k in own if not k.startswith(("skip.", "out.")) and k not in body]
    if mismatched or missing:
        raise InputValueError(f"--init {path}: expected a plain network with the same features and depth, "
                              f"got mismatched {mismatched or 'none'} and missing {missing or 'none'}")
    model.load_state_dict(body, strict=False)
    return sorted(body)


def _ship_sr(model, card: dict, args, config: dict) -> dict:
    """Export and verify on two random luma images (one of odd size), write the trio, then measure
    it on ``--val`` next to bicubic and Lanczos."""
    rng = np.random.default_rng(args.seed)
    checks = [torch.from_numpy(rng.random((1, 1, 40, 56), dtype=np.float32)),
              torch.from_numpy(rng.random((1, 1, 19, 23), dtype=np.float32))]
    card = ship(model, card, Path(args.out), torch.zeros(1, 1, 32, 32), checks, config)
    if args.val:
        card = attach_sr_metrics(card, Path(args.out), args.val)
    return card


def attach_sr_metrics(card: dict, out_dir: Path, val: str) -> dict:
    """``imgadapt eval sr`` on the shipped ONNX next to bicubic and Lanczos, stored in the card."""
    s = card["scale"]
    rows = eval_rows(out_dir, ["sr", "--hr", val, "--scale", str(s)], card["name"])
    ours = next(r for r in rows if r["method"] == card["name"])
    bicubic = next((r for r in rows if r["method"] == "opencv-bicubic"), None)
    card["metrics"] = {
        "protocol": f"Y-PSNR (BT.601, MATLAB rgb2ycbcr), {s}-px border crop, mean over images; low-resolution "
                    "input by antialiased bicubic (MATLAB imresize) of the 8-bit image; speed = output "
                    "megapixels/s through the public API, median of 3 after warm-up, peers in the same run "
                    "(imgadapt eval sr)",
        "data": portable(val), "images": list(ours["per_image"]), "measured": time.strftime("%Y-%m-%d"),
        "psnr_db": ours["psnr_db"], "mp_s": ours["mp_s"], "rows": rows,
        "summary": f"{ours['psnr_db']:.2f} dB val x{s}" + (f", bicubic {bicubic['psnr_db']:.2f} dB" if bicubic else ""),
    }
    write_card(Path(out_dir) / (card["name"] + ".json"), card)
    return card
