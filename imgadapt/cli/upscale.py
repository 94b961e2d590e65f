"""``imgadapt upscale``: images in, ``--scale`` times larger images out (a batch of files)."""
from __future__ import annotations

from ..errors import ImgadaptError
from . import batch
from .args import add_batch_args
from .status import CommandError


def add_parser(sub) -> None:
    p = sub.add_parser("upscale", help="upscale gray or colour images (PNG, TIFF, NPY) by a factor")
    add_batch_args(p, "sr", ".png")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor (see 'imgadapt models --task sr')")
    p.set_defaults(func=run)


def run(args) -> int:
    """The named model, or the default one for ``--scale``."""
    from .._model import default_upscaler, registry

    try:
        args.model = args.model or default_upscaler(args.scale)
    except ImgadaptError as exc:
        raise CommandError(f"error: no super-resolution model for x{args.scale} is installed ({exc})") from None
    card = registry().resolve(args.model, "sr")
    if int(card.get("scale", 0)) != args.scale:
        raise CommandError(f"error: model {card['name']} upscales x{card.get('scale')}, "
                           f"but --scale {args.scale} was given")
    return batch.run(args, lambda m, x: m(x))
