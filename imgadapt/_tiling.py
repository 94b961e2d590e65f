"""Tiled inference: bounded memory, output identical to the untiled run.

A model whose output at a pixel depends only on inputs within ``halo`` pixels (its receptive
radius) gives the same values on a tile cut with that halo as on the whole image, provided the
model pads with zeros at the image border and the tile grid keeps the data's phase (``multiple``).

The image itself is never copied whole: a :class:`Padded` image is the input array (its own dtype,
layout and strides) with borders described by index arrays, and each tile's window is read from
it on its own (mirrored or replicated where it crosses the border); :func:`fill_window` converts a
window straight into the network's float32 buffer without gathering it first. The caller writes
each finished tile into the output, so memory is the input, the output and a working set of one
tile, whatever the frame size.
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


def _longest_run(index: np.ndarray) -> tuple[int, int]:
    """``(start, stop)``: the longest stretch of ``index`` whose values go up by one at each step."""
    if len(index) < 2:
        return 0, len(index)
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    edges = np.concatenate(([0], breaks, [len(index)]))
    k = int(np.argmax(np.diff(edges)))
    return int(edges[k]), int(edges[k + 1])


def fill_window(dst: np.ndarray, image: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                convert: Callable[[np.ndarray, np.ndarray], None],
                runs: tuple[tuple[int, int], tuple[int, int]] | None = None) -> None:
    """``dst[:] = convert(image[rows][:, cols])`` without gathering the window first.

    ``convert(src, out)`` maps an ``h x w[xC]`` block of ``image`` to ``out`` (``(C', h, w)``, a view of
    ``dst``) pixel by pixel; ``dst`` is ``(C', len(rows), len(cols))``. The block of the window that is
    a plain rectangle of ``image`` (its longest runs of consecutive rows and columns, or ``runs``:
    ``((r0, r1), (c0, c1))`` where the caller knows them) is converted straight from the image (a view:
    no copy of it in its own dtype); the mirrored or replicated borders are copied from converted
    pixels where their source lies in that block and converted on their own elsewhere. Conversion is
    per pixel, so the result is the gathered window's, exactly.
    """
    (r0, r1), (c0, c1) = runs if runs is not None else (_longest_run(rows), _longest_run(cols))
    i0, j0 = int(rows[r0]), int(cols[c0])
    convert(image[i0:i0 + r1 - r0, j0:j0 + c1 - c0], dst[:, r0:r1, c0:c1])

    def parts(index, a, b, first):
        """Positions outside ``a:b`` whose source lies in the block, as (targets, sources) pairs of
        slices where they run by one (mirrors do), and the positions whose source lies outside."""
        pairs, far = [], []
        for lo, hi in ((0, a), (b, len(index))):
            if lo == hi:
                continue
            src = index[lo:hi] - first
            if src.min() >= 0 and src.max() < b - a:
                pairs.append((slice(lo, hi), _slice_of(src + a)))
                continue
            pos = np.arange(lo, hi)
            inside = (src >= 0) & (src < b - a)
            pairs.append((pos[inside], src[inside] + a))
            far.append(pos[~inside])
        far = np.concatenate(far) if far else ()
        return pairs, far
    pairs, far = parts(cols, c0, c1, j0)
    for target, source in pairs:
        dst[:, r0:r1, target] = dst[:, r0:r1, source]
    if len(far):
        dst[:, r0:r1, far] = _converted(image, rows[r0:r1], cols[far], convert, dst)
    pairs, far = parts(rows, r0, r1, i0)
    for target, source in pairs:
        dst[:, target, :] = dst[:, source, :]
    if len(far):
        dst[:, far, :] = _converted(image, rows[far], cols, convert, dst)


def _slice_of(index: np.ndarray):
    """``index`` as a slice where it runs up or down by one (a view serves), else itself."""
    first, last = int(index[0]), int(index[-1])
    step = 1 if last >= first else -1
    runs = abs(last - first) + 1 == len(index)
    if runs and (len(index) <= 2 or (index == np.arange(first, last + step, step)).all()):
        return slice(first, None if last + step < 0 else last + step, step)
    return index


def _converted(image, rows, cols, convert, like):
    out = np.empty((like.shape[0], len(rows), len(cols)), like.dtype)
    convert(take_window(image, rows, cols), out)
    return out


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
    for y0, y1, ya, yb in spans(ry0, ry1, h, tile, halo, multiple):
        for x0, x1, xa, xb in spans(rx0, rx1, w, tile, halo, multiple):
            result = run(ya, yb, xa, xb)
            yield y0, y1, x0, x1, result[:, (y0 - ya) * scale:(y1 - ya) * scale, (x0 - xa) * scale:(x1 - xa) * scale]


def spans(r0: int, r1: int, n: int, tile: int, halo: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """``(core start, core end, window start, window end)`` along one axis of length ``n``: cores of
    equal size (at most ``tile``, multiples of ``multiple``) covering ``r0:r1``, each in a window
    reaching ``halo`` beyond it or to the axis' end. Windows all have the same size where the axis
    allows (the last one is moved back rather than cut short), so onnxruntime sees one input shape
    per frame and reuses its memory instead of growing its arena with every odd-sized edge tile."""
    g0 = r0 // multiple * multiple
    count = -(-(r1 - g0) // tile)
    step = _round_up(-(-(r1 - g0) // count), multiple)
    size = step + 2 * halo
    out = []
    for c0 in range(g0, r1, step):
        c1 = min(c0 + step, r1)
        w0 = max(0, min(c0 - halo, (n - size) // multiple * multiple))
        out.append((c0, c1, w0, min(n, max(w0 + size, c1 + halo))))
    return out


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
