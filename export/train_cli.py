"""``imgadapt train NAME --data DIR --val DIR``: train, export, verify, evaluate and ship a model."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from imgadapt.errors import ImgadaptError, InputValueError

from . import nets
from .data import load_folder
from .records import REPO, eval_rows, init_train, portable
from .records import command as record_command
from .train_net import run_options, training_device
from .ship import ship, write_card

log = logging.getLogger("imgadapt.train")
MOSAIC_INPUT = {"channels": 1, "pattern": "RGGB", "multiple": 2, "range": "0-1 float, 8-bit trained"}


def _best_of_restarts(args, train) -> tuple:
    """Selector training finds a local optimum that depends on the initial selector: train from
    ``--restarts`` initialisations on the same crops and keep the best by the training objective."""
    runs = []
    for restart in range(args.restarts):
        torch.manual_seed(args.seed + restart)
        candidate = nets.create(args.name, **_selector_options(args),
                                **({"kernel_sizes": args.kernel_sizes} if args.kernel_sizes else {}))
        history = train(candidate)
        log.info("restart %d: train PSNR %.3f dB", restart, history[-1]["train_psnr"])
        runs.append((history[-1]["train_psnr"], restart, candidate, history))
    _, chosen, model, history = max(runs, key=lambda r: r[0])
    return model, history, {"restarts": args.restarts, "restart_train_psnr": [round(r[0], 4) for r in runs],
                            "chosen_restart": chosen}


def _selector_options(args) -> dict:
    return {k: v for k, v in (("selector_channels", args.selector_channels), ("selector_depth", args.selector_depth))
            if v is not None}


def _linear_train_record(args, argv, history, restarts: dict) -> dict:
    return {"command": record_command(argv), "data": portable(args.data), "seed": args.seed,
            "crops": args.crops, "patch": args.patch, "rounds": args.rounds,
            "selector_epochs": args.selector_epochs, "scales": list(args.scales),
            "balance": args.balance or None, "prune_below": args.prune_below or None, **restarts,
            "steps": f"{args.restarts} x ({args.rounds + 1} least-squares solves, {args.rounds} selector "
                     f"trainings of {args.selector_epochs} epochs over {args.crops} crops), best by training PSNR",
            "history": [{k: v for k, v in h.items() if k != "kernel_use"} for h in history],
            "kernel_use": history[-1]["kernel_use"]}


def _linear_config(model) -> dict:
    return {"kernel_sizes": list(model.pafu.kernel_sizes), "selector_channels": model.pafu.selector_channels,
            "selector_depth": model.pafu.selector_depth}


def train_demosaic_linear(args, argv) -> dict:
    from .train_demosaic import train_pafu_linear

    images = load_folder(args.data)
    model, history, restarts = _best_of_restarts(args, lambda m: train_pafu_linear(
        m, images, crops=args.crops, size=args.patch, rounds=args.rounds, selector_epochs=args.selector_epochs,
        seed=args.seed, scales=args.scales, balance=args.balance or None, prune_below=args.prune_below or None))
    cfg = _linear_config(model)
    card = {
        **nets.get(args.name).card(), "layers": ["pafu"],
        "description": "Linear PAFU demosaicking: per 2x2 block, a selector on structure-tensor features "
                       "picks one of a group of least-squares kernels on the packed RGGB mosaic.",
        "input": MOSAIC_INPUT, "receptive_field": model.receptive_field, "default_rank": 1,
        "train": _linear_train_record(args, argv, history, restarts),
        "config": cfg,
    }
    return ship_demosaic(model, card, args, cfg)


def train_sr_linear(args, argv) -> dict:
    from .train_sr import train_pafu_linear_sr

    images = load_folder(args.data)
    scales = args.scales if args.scales != DEFAULT_SCALES else (1.0, 0.7, 0.5)
    model, history, restarts = _best_of_restarts(args, lambda m: train_pafu_linear_sr(
        m, images, crops=args.crops, size=args.patch, rounds=args.rounds, selector_epochs=args.selector_epochs,
        seed=args.seed, scales=scales, balance=args.balance or None, prune_below=args.prune_below or None))
    cfg = _linear_config(model)
    s = model.scale
    card = {
        **nets.get(args.name).card(), "layers": ["pafu"], "scale": s,
        "description": f"Linear PAFU x{s} super-resolution (a learned RAISR): per low-resolution pixel, a selector "
                       "on structure-tensor features picks one of a group of least-squares kernels that maps the "
                       f"pixel's neighbourhood to its {s * s} high-resolution sub-pixels.",
        "input": {"channels": 1, "colour": "luma (BT.601 Y); chroma by bicubic interpolation",
                  "range": "0-1 float, 8-bit trained"},
        "receptive_field": model.receptive_field, "default_rank": 1,
        "train": {**_linear_train_record(args, argv, history, restarts), "scales": list(scales)},
        "config": cfg,
    }
    return _ship_sr(model, card, args, cfg)


def train_sr_net(args, argv) -> dict:
    from .train_net import train_network
    from .train_sr import make_sr_dataset, solve_conv, sr_batches

    from .nets.sr import PafuLinearSR

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
        **nets.get(args.name).card(), "scale": s,
        "layers": [] if plain else ["pafu"],
        "description": (f"Plain-convolution ablation of sr/pafu-espcn-x{s}: a 3x3 convolution in place of the PAFU "
                        "output, a least-squares 5x5 convolution as the linear path." if plain else
                        f"ESPCN-style x{s} super-resolution: a rectified 5x5-3x3-3x3 embedding (32 maps) of the "
                        "low-resolution luma and a PAFU output layer selecting among 16 3x3 kernels from the "
                        f"embeddings correct the linear PAFU upscaler (sr/pafu-linear-x{s}); depth-to-space."),
        "input": {"channels": 1, "colour": "luma (BT.601 Y); chroma by bicubic interpolation",
                  "range": "0-1 float, 8-bit trained"},
        "receptive_field": model.receptive_field, "default_rank": 0 if plain else 2,
        "train": {"command": record_command(argv, summary["steps"]), "data": portable(args.data), "seed": args.seed,
                  "linear_path": (f"least-squares 5x5 convolution over {args.crops} crops, frozen" if plain else
                                  f"{portable(args.init)}, frozen"), **summary},
    }
    return _ship_sr(model, card, args, config)


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
    from .nets.demosaic import PafuLinearDemosaic
    from .train_net import train_network

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
        from .train_demosaic import solve_plain_conv

        solve_plain_conv(model.input, images, seed=args.seed)
    run_dir = Path(args.runs) / args.name
    log.info("%s: %d parameters, receptive field %d px", args.name, sum(p.numel() for p in model.parameters()),
             model.receptive_field)
    batch_fn = None
    if args.batches_on_device:
        if noise:
            raise InputValueError("--batches-on-device: clean demosaicking only (the noisy mosaics are made on the CPU)")
        from .device_batches import device_demosaic_batches

        batch_fn = device_demosaic_batches(images, args.batch, args.patch, args.pad, args.scales, training_device(args.device))
    summary = train_network(model, images, steps=args.steps, batch=args.batch, patch=args.patch,
                            lr=args.lr, seed=args.seed, noise=noise, scales=args.scales, balance=args.balance or None,
                            pad=args.pad, kernel_lr_scale=args.kernel_lr_scale, checkpoint=run_dir / "checkpoint.pt",
                            fixed_pafu=not args.train_pafu, batch_fn=batch_fn, **run_options(args))
    summary.update(loss=args.loss, pafu="trained end to end" if args.train_pafu and not plain else "fixed")
    if batch_fn is not None:
        summary["batches"] = "made on the training device (export.device_batches)"
    from .optimize import calibration_crops, shrink_if_harmless
    from .train_net import make_batch

    calib = calibration_crops(lambda rng: (*make_batch(images, 16, args.patch, rng, noise, args.pad,
                                                       scales=args.scales), args.pad), args.seed)
    exported, shrink = shrink_if_harmless(model, *calib)
    layers = [] if plain else ["pafu"] if model.plain_body else ["pafu", "envelope"]
    card = {
        **entry.card(), "layers": layers,
        "description": ("Plain-convolution ablation of pafu-net." if plain else
                        "PAFU input layer (linear estimate plus features) and a residual body of plain 3x3 "
                        "convolutions on the packed RGGB mosaic" if model.plain_body else
                        "PAFU input layer (linear estimate plus features) and a residual body of Gaussian-"
                        "envelope (disentangled) 3x3 convolutions on the packed RGGB mosaic")
                       + (" Trained on mosaics with heteroscedastic noise (joint denoising)." if noise else ""),
        "input": MOSAIC_INPUT, "receptive_field": exported.receptive_field,
        "default_rank": 0,  # the linear model stays the default: 1 dB over LibRaw AHD at several times its speed
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


def train_edges_net(args, argv) -> dict:
    from .train_edges import train_edges

    return train_edges(args, argv)


def _kernel_sizes(text: str) -> tuple[int, ...]:
    """``3x16`` or ``3x9,5x8`` (size x count, comma-separated) or ``3,3,5``: a linear PAFU's kernel group."""
    sizes = []
    try:
        for part in text.split(","):
            size, _, count = part.partition("x")
            sizes += [int(size)] * (int(count) if count else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 3x16 or 3x9,5x8, got {text!r}") from None
    if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
        raise argparse.ArgumentTypeError(f"expected odd kernel sizes >= 1, got {text!r}")
    return tuple(sizes)


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected scales in (0, 1], got {text!r}")
    return values


DEFAULT_SCALES = (1.0, 0.7, 0.5, 0.35, 0.25)
EXIT_RESUMABLE = 75  # EX_TEMPFAIL: stopped at --minutes; rerun the same command to continue


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected minutes > 0, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="imgadapt train", description=__doc__)
    parser.add_argument("name", choices=nets.trainable())
    parser.add_argument("--data", required=True, nargs="+", help="folders of training images")
    parser.add_argument("--val", default=None, help="folder of validation images (metrics in the card); edges: "
                                                    "a scenes folder with images/ and gt/")
    parser.add_argument("--textures", default=None, help="edges: folder of textures, extra region fills of the scenes")
    parser.add_argument("--out", default=str(REPO / "models"), help="models folder (default: the checkout's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crops", type=int, default=2000, help="random training crops")
    parser.add_argument("--patch", type=int, default=96, help="crop size in pixels (even)")
    parser.add_argument("--rounds", type=int, default=4, help="selector/kernel alternations")
    parser.add_argument("--selector-epochs", type=int, default=8)
    parser.add_argument("--prune-below", type=float, default=1e-4,
                        help="linear PAFU: drop kernels picked for less than this share of training pixels")
    parser.add_argument("--kernel-sizes", type=_kernel_sizes, default=None,
                        help="linear PAFU: the kernel group, e.g. 3x16 or 3x9,5x8 (size x count; default: the "
                             "architecture's)")
    parser.add_argument("--selector-channels", type=int, default=None,
                        help="linear PAFU: width of the selection CNN (default: the architecture's)")
    parser.add_argument("--selector-depth", type=int, default=None,
                        help="linear PAFU: 3x3 layers of the selection CNN (default: the architecture's)")
    parser.add_argument("--restarts", type=int, default=1,
                        help="linear PAFU: selector initialisations tried, the best by training PSNR kept")
    parser.add_argument("--scales", type=_floats, default=DEFAULT_SCALES,
                        help="comma-separated crop scales (downscaling before cropping; super-resolution "
                             "defaults to 1,0.7,0.5)")
    parser.add_argument("--balance", type=float, default=5e-6,
                        help="MSE floor of the per-crop balanced objective, mean PSNR rather than total "
                             "squared error (0: plain least squares / MSE)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--init", default=None,
                        help="networks: checkpoint to start from: a linear PAFU (the input layer) or a trained "
                             "network of the same architecture (fine-tuning, e.g. for joint denoising)")
    parser.add_argument("--steps", type=int, default=3000, help="networks: optimiser steps")
    parser.add_argument("--batch", type=int, default=16, help="networks: crops per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="networks: peak learning rate")
    parser.add_argument("--features", type=int, default=None, help="demosaicking and super-resolution networks: "
                                                                  "body width (default: the architecture's)")
    parser.add_argument("--depth", type=int, default=None, help="super-resolution networks: 3x3 layers after the "
                                                               "5x5 one (default: the architecture's)")
    parser.add_argument("--blocks", type=int, default=None, help="demosaicking networks: residual blocks "
                                                                "(default: the architecture's)")
    parser.add_argument("--kernel-lr-scale", type=float, default=0.0,
                        help="networks: learning-rate factor of the input layer's kernels (0: frozen)")
    parser.add_argument("--pad", type=int, default=16,
                        help="networks: mirrored context around each crop, even (the loss skips it)")
    parser.add_argument("--runs", default=str(REPO / "runs"), help="networks: folder for resumable checkpoints")
    parser.add_argument("--minutes", type=_minutes, default=None,
                        help="networks: stop after this many minutes with the run checkpointed (exit status 75); "
                             "the same command resumes it")
    parser.add_argument("--batches-on-device", action="store_true",
                        help="demosaicking networks: make the crops and mosaics on the training device (a GPU "
                             "trains several times faster than with CPU-made batches)")
    parser.add_argument("--fit-steps", action="store_true",
                        help="networks, with --minutes: shorten --steps to what the time budget allows at the rate "
                             "of the first steps, the learning-rate schedule ending in time")
    parser.add_argument("--usage-balance", type=float, default=0.0,
                        help="networks: weight of the load-balance loss of PAFUs trained end to end (keeps "
                             "their selection from collapsing onto one kernel; 0: off)")
    parser.add_argument("--bsds-threshold", type=float, default=0.3,
                        help="edges on BSDS500 (--data a BSDS500 folder): share of annotators at which a pixel is a "
                             "boundary; pixels marked by fewer are left out of the loss")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="networks: where to train (default: CUDA when torch sees it, else the CPU)")
    parser.add_argument("--loss", choices=("psnr", "mse", "l1"), default="psnr",
                        help="networks: mean per-crop PSNR (with --balance, default), plain MSE, or L1")
    parser.add_argument("--plain-body", action="store_true",
                        help="demosaicking networks: plain 3x3 convolutions in the residual body (no envelopes)")
    parser.add_argument("--train-pafu", action="store_true",
                        help="demosaicking networks: train the input PAFU end to end (straight-through Gumbel "
                             "selection, decorrelation loss) instead of keeping it as initialised")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from .train_net import TimeBudgetReached

    try:
        card = nets.get(args.name).train(args, argv)
    except TimeBudgetReached as stop:
        log.info("%s", stop)
        return EXIT_RESUMABLE
    except ImgadaptError as exc:
        log.error("error: %s", exc)
        return 2
    print(json.dumps({k: card[k] for k in ("name", "params", "onnx_sha256")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
