"""``imgadapt edges``: boundary probability maps or thin edges (a batch of files)."""
from __future__ import annotations

import numpy as np

from . import batch
from .args import add_batch_args, positive
from .status import CommandError


def add_parser(sub) -> None:
    p = sub.add_parser("edges", help="boundary probability maps (16- or 8-bit gray PNG) or thin 0/255 edges")
    add_batch_args(p, "edges", ".png")
    p.add_argument("--thin", action="store_true",
                   help="write thin edges (255 on edges, 0 elsewhere, like cv2.Canny): non-maximum suppression "
                        "across the edge, then --threshold")
    p.add_argument("--threshold", type=positive, default=0.5, help="--thin: least edge probability (default 0.5)")
    p.add_argument("--bits", type=int, choices=[8, 16], default=16,
                   help="probability maps: bits per pixel of the gray output (default 16)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Probability scaled to the full 8- or 16-bit range, or thin edges as 0/255."""
    if args.threshold > 1:
        raise CommandError(f"error: --threshold expects a probability in (0, 1], got {args.threshold:g}")

    def process(model, image):
        out = model(image, thin=args.thin, threshold=args.threshold)
        if args.thin:
            return out
        top = 255 if args.bits == 8 else 65535
        return np.rint(out * top).astype(np.uint8 if args.bits == 8 else np.uint16)
    return batch.run(args, process)
