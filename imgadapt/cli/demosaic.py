"""``imgadapt demosaic``: Bayer mosaics in, BGR images out (a batch of files)."""
from __future__ import annotations

from ..bayer import PATTERNS
from . import batch
from .args import add_batch_args


def add_parser(sub) -> None:
    p = sub.add_parser("demosaic", help="demosaic Bayer mosaics stored as PNG, TIFF or NPY")
    add_batch_args(p, "demosaic", ".png")
    p.add_argument("--pattern", default="RGGB", type=str.upper, choices=PATTERNS)
    p.add_argument("--white-level", type=float, default=None, help="full scale of 10/12/14-bit data in uint16")
    p.set_defaults(func=run)


def run(args) -> int:
    return batch.run(args, lambda m, x: m(x, pattern=args.pattern, white_level=args.white_level))
