"""The demosaicking runs of ``imgadapt train``: train, export, verify, measure through the runtime
and ship the linear PAFU and the networks (also the denoising variants)."""
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
from .network import run_options, training_device
from .records import eval_rows, init_train, portable
from .records import command as record_command
from .runs import MOSAIC_INPUT, best_of_restarts, linear_config, linear_train_record

log = logging.getLogger("imgadapt.train")


def train_demosaic_linear(args, argv) -> dict:
    from .demosaic import train_pafu_linear

    images = load_folder(args.data)
    model, history, restarts = best_of_restarts(args, lambda m: train_pafu_linear(
        m, images, crops=args.crops, size=args.patch, rounds=args.rounds, selector_epochs=args.selector_epochs,
        seed=args.seed, scales=args.scales, balance=args.balance or None, prune_below=args.prune_below or None))
    cfg = linear_config(model)
    card = {
        **nets.get(args.name).card(model),
        "description": "Linear PAFU demosaicking: per 2x2 block, a selector on structure-tensor features "
                       "picks one of a group of least-squares kernels on the packed RGGB mosaic.",
        "input": MOSAIC_INPUT, "receptive_field": model.receptive_field,
        "train": linear_train_record(args, argv, history, restarts),
        "config": cfg,
    }
    return ship_demosaic(model, card, args, cfg)


def ship_demosaic(model, card: dict, args, config: dict, noise: bool = False, onnx_model=None) -> dict:
    """Export and verify on two random mosaics (one of another size), write the trio, then measure
    it on ``--val`` next to the peers (and on noisy mosaics for a denoising model)."""
    rng = np.random.default_rng(args.seed)
    checks = [torch.from_numpy(rng.random((1, 1, 64, 96), dtype=np.float32)),
              torch.from_numpy(rng.random((1, 1, 38, 22), dtype=np.float32))]
    card = ship(model, card, Path(args.out), torch.zeros(1, 1, 32, 32), checks, config, onnx_model)
    if args.val:
        card = attach_demosaic_metrics(card, Path(args.out), args.val)
        if noise:
            card = attach_denoise_metrics(card, Path(args.out), args.val)
    return card


def attach_demosaic_metrics(card: dict, out_dir: Path, val: str) -> dict:
    """Evaluate the shipped ONNX through the runtime next to the peers, and store it in the card."""
    rows = eval_rows(out_dir, ["demosaic", "--images", val], card["name"])
    ours = next(r for r in rows if r["method"] == card["name"])
    peers = [r for r in rows if r["source"] != "imgadapt"]
    best = max(peers, key=lambda r: r["psnr_db"]) if peers else None
    card["metrics"] = {
        "protocol": "RGB PSNR, 8-px border crop, mean over images of per-image PSNR; clean 8-bit images "
                    "mosaicked RGGB; speed = input megapixels/s through the public API, median of 3 after "
                    "warm-up, peers in the same run (imgadapt eval demosaic)",
        "data": portable(val), "images": list(ours["per_image"]), "measured": time.strftime("%Y-%m-%d"),
        "psnr_db": ours["psnr_db"], "mp_s": ours["mp_s"], "rows": rows,
        "summary": f"{ours['psnr_db']:.2f} dB val" + (f", best peer {best['method']} {best['psnr_db']:.2f} dB"
                                                     if best else ""),
    }
    write_card(Path(out_dir) / (card["name"] + ".json"), card)
    return card


def train_demosaic_net(args, argv) -> dict:
    from ..nets.demosaic import PafuLinearDemosaic
    from .network import train_network

    entry = nets.get(args.name)
    arch = entry.arch
    config, state = {}, None
    if args.init:
        state = torch.load(args.init, weights_only=False)
        config = dict(state["config"]) if state["arch"] == arch else {  # the linear model's PAFU, as taken over
            k: state["config"][k] for k in ("kernel_sizes", "selector_channels", "selector_depth") if k in state["config"]}
    body = {k: v for k, v in (("features", args.features), ("blocks", args.blocks),
                              ("plain_body", args.plain_body or None),
                              ("kernel_sizes", list(args.kernel_sizes) if args.kernel_sizes else None))
            if v is not None}
    if state is not None and state["arch"] == arch and any(config.get(k) != v for k, v in body.items()):
        raise InputValueError(f"--features/--blocks: fine-tuning keeps the body of {args.init} "
                              f"(features {config.get('features')}, blocks {config.get('blocks')}), got {body}")
    config.update(body)
    noise = bool(entry.config.get("denoise"))
    config.update(entry.config)
    model = nets.create(arch, **config)
    plain = getattr(model, "plain", False)
    if state is not None and state["arch"] == arch:  # fine-tuning a trained network of the same architecture
        model.load_clean(state["state_dict"])
    elif state is not None:  # the input PAFU takes the linear model's (possibly pruned) kernel group
        if plain:
            raise InputValueError(f"--init: the plain ablation starts from a {arch} checkpoint or from scratch, "
                                  f"got a {state['arch']} checkpoint")
        linear = PafuLinearDemosaic(**state["config"])
        linear.load_state_dict(state["state_dict"])
        model.init_from_linear(linear)
    images = load_folder(args.data)
    if plain and state is None:
        from .demosaic import solve_plain_conv

        solve_plain_conv(model.input, images, seed=args.seed)
    run_dir = Path(args.runs) / args.name
    log.info("%s: %d parameters, receptive field %d px", args.name, sum(p.numel() for p in model.parameters()),
             model.receptive_field)
    batch_fn = None
    if args.batches_on_device:
        if noise:
            raise InputValueError("--batches-on-device: clean demosaicking only "
                                  "(the noisy mosaics are made on the CPU)")
        from .device_batches import device_demosaic_batches

        batch_fn = device_demosaic_batches(images, args.batch, args.patch, args.pad, args.scales,
                                           training_device(args.device))
    summary = train_network(model, images, steps=args.steps, batch=args.batch, patch=args.patch,
                            lr=args.lr, seed=args.seed, noise=noise, scales=args.scales, balance=args.balance or None,
                            pad=args.pad, kernel_lr_scale=args.kernel_lr_scale, checkpoint=run_dir / "checkpoint.pt",
                            fixed_pafu=not args.train_pafu, batch_fn=batch_fn, **run_options(args))
    summary.update(loss=args.loss, pafu="trained end to end" if args.train_pafu and not plain else "fixed")
    if batch_fn is not None:
        summary["batches"] = "made on the training device (export.train.device_batches)"
    from ..onnx.optimize import calibration_crops, shrink_if_harmless
    from .network import make_batch

    calib = calibration_crops(lambda rng: (*make_batch(images, 16, args.patch, rng, noise, args.pad,
                                                       scales=args.scales), args.pad), args.seed)
    exported, shrink = shrink_if_harmless(model, *calib)
    card = {
        **entry.card(model),
        "description": ("Plain-convolution ablation of pafu-net." if plain else
                        "PAFU input layer (linear estimate plus features) and a residual body of plain 3x3 "
                        "convolutions on the packed RGGB mosaic" if model.plain_body else
                        "PAFU input layer (linear estimate plus features) and a residual body of Gaussian-"
                        "envelope (disentangled) 3x3 convolutions on the packed RGGB mosaic")
                       + (" Trained on mosaics with heteroscedastic noise (joint denoising)." if noise else ""),
        "input": MOSAIC_INPUT, "receptive_field": exported.receptive_field,
        "train": {"command": record_command(argv, summary["steps"]), "data": portable(args.data), "seed": args.seed,
                  "init": portable(args.init) if args.init else None, "init_train": init_train(args.init),
                  "noise": noise, **summary},
        "export": {"optimizations": [shrink] if shrink else []},
    }
    return ship_demosaic(model, card, args, config, noise, exported)


NOISE_LEVELS = {"low": (1e-3, 1e-5), "medium": (4e-3, 4e-5), "high": (1e-2, 1e-4)}


def attach_denoise_metrics(card: dict, out_dir: Path, val: str) -> dict:
    """Noisy-mosaic figures at three sensor-noise levels next to OpenCV VNG + non-local means
    (every strength measured, the best one per level quoted)."""
    levels = {}
    for level, (a, b) in NOISE_LEVELS.items():
        rows = eval_rows(out_dir, ["demosaic", "--images", val], card["name"], ["--noise", f"{a},{b}"])
        ours = next(r for r in rows if r["method"] == card["name"])
        nlm = [r for r in rows if r["method"].startswith("opencv-vng+nlm")]
        best = max(nlm, key=lambda r: r["psnr_db"])
        levels[level] = {"a": a, "b": b, "psnr_db": ours["psnr_db"], "mp_s": ours["mp_s"],
                         "best_peer": best["method"], "best_peer_psnr_db": best["psnr_db"],
                         "best_peer_mp_s": best["mp_s"], "rows": rows}
    card["metrics_noisy"] = {
        "protocol": "RGGB mosaics of the clean 8-bit images plus Gaussian noise of variance a*x+b (x in [0,1], "
                    "seeded per image), rounded to 8 bits; RGB PSNR against the clean image, 8-px border crop",
        "levels": levels,
        "summary": "; ".join(f"{k}: {v['psnr_db']:.2f} dB vs {v['best_peer']} {v['best_peer_psnr_db']:.2f}"
                             for k, v in levels.items()),
    }
    write_card(Path(out_dir) / (card["name"] + ".json"), card)
    return card
