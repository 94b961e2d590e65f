"""Tiled inference: bounded memory, output identical to the untiled run.

A model whose output at a pixel depends only on inputs within ``halo`` pixels (its receptive
radius) gives the same values on a tile cut with that halo as on the whole image, provided the
model pads with zeros at the image border and the tile grid keeps the data's phase (``multiple``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def run_tiled(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, tile: int | None, halo: int,
              scale: int = 1, multiple: int = 1) -> np.ndarray:
    """Apply ``fn`` to ``x`` tile by tile.

    Args:
        fn: maps a ``(1, C, h, w)`` float32 array to ``(1, C_out, h*scale, w*scale)``.
        x: ``(C, H, W)`` float32 input.
        tile: core tile size in input pixels; ``None`` or ``0`` runs the whole image at once.
        halo: context added on each side of a tile (at least the model's receptive radius).
        scale: output pixels per input pixel.
        multiple: tile origins and sizes are multiples of this (2 keeps the Bayer phase).

    Returns:
        ``(C_out, H*scale, W*scale)`` float32 array.
    """
    _, h, w = x.shape
    halo = _round_up(max(halo, 0), multiple)
    if not tile or (h <= tile + 2 * halo and w <= tile + 2 * halo):
        return fn(x[None])[0]
    tile = max(_round_up(tile, multiple), multiple)
    out = None
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - halo, 0), max(x0 - halo, 0)
            yb, xb = min(y1 + halo, h), min(x1 + halo, w)
            result = fn(np.ascontiguousarray(x[None, :, ya:yb, xa:xb]))[0]
            if out is None:
                out = np.empty((result.shape[0], h * scale, w * scale), dtype=np.float32)
            out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = result[
                :, (y0 - ya) * scale:(y1 - ya) * scale, (x0 - xa) * scale:(x1 - xa) * scale]
    return out
