"""Tiled inference: bounded memory, output identical to the untiled run.

A model whose output at a pixel depends only on inputs within ``halo`` pixels (its receptive
radius) gives the same values on a tile cut with that halo as on the whole image, provided the
model pads with zeros at the image border and the tile grid keeps the data's phase (``multiple``).

The image itself is never copied whole: a :class:`Padded` image is the input array (its own dtype,
layout and strides) with borders described by index arrays, and each tile's window is read from
it on its own (mirrored or replicated where it crosses the border). The caller converts each
window to the network's float32 and writes each finished tile into the output, so memory is the
input, the output and a working set of one tile, whatever the frame size.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

REFLECT_101 = "reflect_101"  # mirror without repeating the edge (cv2.BORDER_REFLECT_101): keeps a Bayer phase
REPLICATE = "replicate"      # repeat the edge pixel (cv2.BORDER_REPLICATE)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def fold_index(pos: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map positions (any integers) onto ``0..n-1`` as OpenCV's border of ``mode`` does (``n >= 1``)."""
    if mode == REPLICATE or n == 1:
        return np.clip(pos, 0, n - 1)
    if mode != REFLECT_101:
        raise ValueError(f"unknown border mode {mode!r}")
    period = 2 * (n - 1)
    pos = np.mod(pos, period)
    return np.where(pos < n, pos, period - pos)


def border_index(n: int, pads: Sequence[tuple[int, int, str]]) -> np.ndarray:
    """Indices into an axis of length ``n`` after the paddings ``(before, after, mode)``, applied in
    order, as nested ``cv2.copyMakeBorder`` calls would pad it."""
    index = np.arange(n)
    for before, after, mode in pads:
        index = index[fold_index(np.arange(-before, len(index) + after), len(index), mode)]
    return index


def _as_slice(index: np.ndarray):
    """``index`` as a slice where it is a run of consecutive indices (a view then serves), else itself."""
    if len(index) and index[-1] - index[0] == len(index) - 1 and (len(index) == 1 or (np.diff(index) == 1).all()):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def take_window(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image[rows][:, cols]`` (``HxW`` or ``HxWxC``) as one contiguous window-sized array."""
    r, c = _as_slice(rows), _as_slice(cols)
    if isinstance(r, slice):
        window = image[r, c] if isinstance(c, slice) else image[r][:, c]
    elif isinstance(c, slice):
        window = image[:, c][r]
    else:
        window = image[r[:, None], c[None, :]]
    return np.ascontiguousarray(window)


class Padded:
    """An ``HxW`` or ``HxWxC`` image extended at its borders without copying it.

    Args:
        image: the array, any dtype and strides; it is only read.
        rows, cols: for each row (column) of the extended image, the row (column) of ``image``
            (see :func:`border_index`).
    """

    def __init__(self, image: np.ndarray, rows: np.ndarray, cols: np.ndarray):
        self.image, self.rows, self.cols = image, rows, cols
        self.shape = (len(rows), len(cols))

    def window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1`` and columns ``x0:x1`` of the extended image, as a new contiguous array."""
        return take_window(self.image, self.rows[y0:y1], self.cols[x0:x1])


def iter_tiles(fn: Callable[[np.ndarray], np.ndarray], x, *, tile: int | None, halo: int, scale: int = 1,
               multiple: int = 1, region: tuple[int, int, int, int] | None = None,
               ) -> Iterator[tuple[int, int, int, int, np.ndarray]]:
    """Apply ``fn`` to ``x`` tile by tile and yield ``(y0, y1, x0, x1, result)``: the core rows
    ``y0:y1`` and columns ``x0:x1`` of a tile in input pixels and ``fn``'s output for them
    (``(C_out, (y1-y0)*scale, (x1-x0)*scale)``).

    ``x`` is a ``(C, H, W)`` array (``fn`` as for :func:`run_tiled`) or a :class:`Padded` image, whose
    windows ``fn`` maps to ``(C_out, h*scale, w*scale)``. With ``region = (y0, y1, x0, x1)`` only
    that part needs an output: the grid starts at its top-left corner (rounded down to
    ``multiple``) and no tile lies wholly outside it; halos still reach outside it. Other
    arguments as for :func:`run_tiled`.
    """
    if isinstance(x, np.ndarray):
        _, h, w = x.shape

        def run(ya, yb, xa, xb):
            return fn(np.ascontiguousarray(x[None, :, ya:yb, xa:xb]))[0]
    else:
        h, w = x.shape

        def run(ya, yb, xa, xb):
            return fn(x.window(ya, yb, xa, xb))
    halo = _round_up(max(halo, 0), multiple)
    if not tile or (h <= tile + 2 * halo and w <= tile + 2 * halo):
        yield 0, h, 0, w, run(0, h, 0, w)
        return
    ry0, ry1, rx0, rx1 = region if region is not None else (0, h, 0, w)
    tile = max(_round_up(tile, multiple), multiple)
    for y0, y1, ya, yb in _spans(ry0, ry1, h, tile, halo, multiple):
        for x0, x1, xa, xb in _spans(rx0, rx1, w, tile, halo, multiple):
            result = run(ya, yb, xa, xb)
            yield y0, y1, x0, x1, result[:, (y0 - ya) * scale:(y1 - ya) * scale, (x0 - xa) * scale:(x1 - xa) * scale]


def _spans(r0: int, r1: int, n: int, tile: int, halo: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """``(core start, core end, window start, window end)`` along one axis of length ``n``: cores of
    equal size (at most ``tile``, multiples of ``multiple``) covering ``r0:r1``, each in a window
    reaching ``halo`` beyond it or to the axis' end. Windows all have the same size where the axis
    allows (the last one is moved back rather than cut short), so onnxruntime sees one input shape
    per frame and reuses its memory instead of growing its arena with every odd-sized edge tile."""
    g0 = r0 // multiple * multiple
    count = -(-(r1 - g0) // tile)
    step = _round_up(-(-(r1 - g0) // count), multiple)
    size = step + 2 * halo
    spans = []
    for c0 in range(g0, r1, step):
        c1 = min(c0 + step, r1)
        w0 = max(0, min(c0 - halo, (n - size) // multiple * multiple))
        spans.append((c0, c1, w0, min(n, max(w0 + size, c1 + halo))))
    return spans


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
