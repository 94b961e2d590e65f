"""Tiled inference: bounded memory, output identical to the untiled run.

A model whose output at a pixel depends only on inputs within ``halo`` pixels (its receptive
radius) gives the same values on a tile cut with that halo as on the whole image, provided the
model pads with zeros at the image border and the tile grid keeps the data's phase (``multiple``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def iter_tiles(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, tile: int | None, halo: int,
               scale: int = 1, multiple: int = 1) -> Iterator[tuple[int, int, int, int, np.ndarray]]:
    """Apply ``fn`` to ``x`` tile by tile and yield ``(y0, y1, x0, x1, result)``: the core rows
    ``y0:y1`` and columns ``x0:x1`` of a tile in input pixels and ``fn``'s output for them
    (``(C_out, (y1-y0)*scale, (x1-x0)*scale)``). Arguments as for :func:`run_tiled`."""
    _, h, w = x.shape
    halo = _round_up(max(halo, 0), multiple)
    if not tile or (h <= tile + 2 * halo and w <= tile + 2 * halo):
        yield 0, h, 0, w, fn(x[None])[0]
        return
    tile = max(_round_up(tile, multiple), multiple)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - halo, 0), max(x0 - halo, 0)
            yb, xb = min(y1 + halo, h), min(x1 + halo, w)
            result = fn(np.ascontiguousarray(x[None, :, ya:yb, xa:xb]))[0]
            yield y0, y1, x0, x1, result[:, (y0 - ya) * scale:(y1 - ya) * scale, (x0 - xa) * scale:(x1 - xa) * scale]


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
    out = None
    for y0, y1, x0, x1, result in iter_tiles(fn, x, tile=tile, halo=halo, scale=scale, multiple=multiple):
        if (y0, y1, x0, x1) == (0, h, 0, w):
            return result
        if out is None:
            out = np.empty((result.shape[0], h * scale, w * scale), dtype=np.float32)
        out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = result
    return out
