"""Antialiased bicubic downscaling by an integer factor (MATLAB ``imresize`` / PIL ``BICUBIC``), and
``modcrop``: how low-resolution inputs are made for measuring super-resolution (as the README states).

The cubic kernel has ``a = -0.5`` and is stretched by ``scale`` for antialiasing; output pixel ``i``
is centred on input position ``(i + 0.5) * scale - 0.5`` (pixel centres aligned, as in MATLAB and
PIL); taps are normalised to sum 1 and the border is extended symmetrically (edge pixel repeated),
as MATLAB does. The filter is separable and runs in float64; integer outputs are rounded once, at
the end, and clipped.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_image
from ..errors import InputSizeError, InputValueError


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise InputValueError(f"scale: expected an integer >= 1, got {scale!r}")
    return int(scale)


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB ``imresize``, PIL ``BICUBIC``).

    Args:
        x: positions, in input pixels of the unstretched kernel.

    Returns:
        Kernel values, zero for ``|x| >= 2``.
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2, ax3 = ax * ax, ax * ax * ax
    near = 1.5 * ax3 - 2.5 * ax2 + 1.0
    far = -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return np.where(ax <= 1.0, near, np.where(ax < 2.0, far, 0.0))


def _taps(scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``t`` (input pixel ``i * scale + t`` feeds output ``i``) and their normalised weights."""
    centre = (scale - 1) / 2.0
    offsets = np.arange(-2 * scale, 3 * scale)
    weights = cubic((offsets - centre) / scale)
    keep = weights != 0.0
    offsets, weights = offsets[keep], weights[keep]
    return offsets, weights / weights.sum()


def _downscale_axis(x: np.ndarray, axis: int, scale: int) -> np.ndarray:
    n = x.shape[axis]
    offsets, weights = _taps(scale)
    left, right = max(0, -int(offsets[0])), max(0, int(offsets[-1]) - scale + 1)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (left, right)
    # numpy's symmetric padding repeats the edge pixel (... 1 0 | 0 1 ...), as MATLAB extends the border;
    # each tap is then a strided view, not a gathered copy
    padded = np.pad(x, pad, mode="symmetric")
    out = None
    for t, w in zip(offsets, weights):
        index = [slice(None)] * x.ndim
        index[axis] = slice(left + int(t), left + int(t) + n, scale)
        term = w * padded[tuple(index)]
        out = term if out is None else out + term
    return out


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so that height and width are multiples of ``scale``.

    Args:
        image: ``HxW`` or ``HxWx3`` array (uint8, uint16, float32 or float64).
        scale: integer factor >= 1.

    Returns:
        A view of ``image`` of shape ``(H - H % scale, W - W % scale[, 3])``.

    Raises:
        InputValueError: ``scale`` is not an integer >= 1.
        InputSizeError: the image is smaller than ``scale`` in height or width.

    Example:
        >>> import numpy as np
        >>> modcrop(np.zeros((10, 11, 3), np.uint8), 3).shape
        (9, 9, 3)
    """
    check_image(image, unit_range=False)  # any finite values: a measuring tool, not the image API
    scale = _check_scale(scale)
    h, w = image.shape[:2]
    if h < scale or w < scale:
        raise InputSizeError(f"modcrop: expected an image of at least {scale}x{scale} pixels, got {h}x{w}")
    return image[:h - h % scale, :w - w % scale]


def downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic downscaling by an integer factor (MATLAB ``imresize(x, 1/scale)``).

    Args:
        image: ``HxW`` or ``HxWx3`` array (uint8, uint16, float32 or float64) whose height and
            width are multiples of ``scale`` (see :func:`modcrop`).
        scale: integer factor >= 1 (1 returns a copy).

    Returns:
        ``(H / scale, W / scale[, 3])`` array of the input's dtype; integers rounded and clipped,
        floats not clipped.

    Raises:
        InputValueError: ``scale`` is not an integer >= 1.
        InputSizeError: height or width is not a multiple of ``scale``.
        InputDtypeError, InputShapeError: see :func:`imgadapt._checks.check_image`.

    Shape:
        ``(H, W[, 3]) -> (H / scale, W / scale[, 3])``

    Example:
        >>> import numpy as np
        >>> downscale(np.full((8, 12, 3), 200, np.uint8), 4)[..., 0]
        array([[200, 200, 200],
               [200, 200, 200]], dtype=uint8)
    """
    check_image(image, unit_range=False)  # any finite values: a measuring tool, not the image API
    scale = _check_scale(scale)
    h, w = image.shape[:2]
    if h % scale or w % scale:
        raise InputSizeError(f"downscale: expected height and width that are multiples of scale {scale} "
                             f"(crop with modcrop), got {h}x{w}")
    x = image.astype(np.float64)
    out = _downscale_axis(_downscale_axis(x, 0, scale), 1, scale)
    if image.dtype.kind == "f":
        return out.astype(image.dtype)
    top = np.iinfo(image.dtype).max
    return np.clip(np.rint(out), 0, top).astype(image.dtype)
