"""``imgadapt train NAME --data DIR --val DIR``: train, export, verify, evaluate and ship a model."""
from __future__ import annotations

import argparse
import json
import logging
import sys

import torch

from imgadapt.errors import ImgadaptError

from .. import nets
from .records import REPO
from .runs import DEFAULT_SCALES

log = logging.getLogger("imgadapt.train")


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
                        help="networks: checkpoint to start from. Demosaicking: a linear PAFU (the input layer) "
                             "or a trained network of the same architecture (fine-tuning, e.g. for joint "
                             "denoising); edges: a trained network of the same architecture; super-resolution: "
                             "the linear PAFU upscaler (the linear path of a PAFU network) or, for a plain "
                             "network, a trained plain network (usually of another scale) whose embedding and "
                             "hidden layers start this one")
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
    parser.add_argument("--selection-information", type=float, default=0.0,
                        help="networks: weight of the selection-information loss of PAFUs trained end to end "
                             "(confident per-pixel choices shared evenly by the kernels, so the argmax at "
                             "inference stays adaptive; 0: off)")
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
    from .network import TimeBudgetReached

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
