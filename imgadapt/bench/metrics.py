"""Quality metrics used to measure models against their peers (the protocols the README states).

- :func:`psnr` / :func:`rgb_psnr`: PSNR over all channels after an optional border crop
  (demosaicking: RGB PSNR, 8-px crop, on clean 8-bit images mosaicked RGGB).
- :func:`y_psnr`: PSNR on BT.601 luma, 8-bit scale, as MATLAB's ``rgb2ycbcr`` (super-resolution,
  ``scale``-px crop).
- :func:`mean_psnr`: the averaging convention of the reported figures (mean of per-image PSNRs).

Errors are computed in float64; integer images are never rounded or rescaled before comparing.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError

# BT.601 luma on [0, 1] RGB giving Y on the 8-bit scale [16, 235] (MATLAB rgb2ycbcr).
_Y_OFFSET = 16.0
_Y_RGB = (65.481, 128.553, 24.966)


def peak_of(dtype) -> float:
    """Largest value of the data range: 255 for uint8, 65535 for uint16, 1.0 for floats."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if dtype.kind == "f":
        return 1.0
    raise InputDtypeError(f"expected dtype uint8, uint16, float32 or float64, got {dtype}")


def _check_pair(a, b, crop: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, np.ndarray):
            raise InputDtypeError(f"{what}: {name} must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype.kind not in "uf" or x.dtype.itemsize > 8:
            raise InputDtypeError(f"{what}: {name} must be an unsigned-integer or float array, got {x.dtype}")
        if x.ndim not in (2, 3):
            raise InputShapeError(f"{what}: {name} must be HxW or HxWxC, got shape {x.shape}")
    if a.shape != b.shape:
        raise InputShapeError(f"{what}: the two images must have the same shape, got {a.shape} and {b.shape}")
    if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 0:
        raise InputValueError(f"{what}: crop must be a non-negative integer, got {crop!r}")
    h, w = a.shape[:2]
    if h <= 2 * crop or w <= 2 * crop:
        raise InputSizeError(f"{what}: a crop of {crop} px per border leaves nothing of a {h}x{w} image")
    if crop:
        a, b = a[crop:h - crop, crop:w - crop], b[crop:h - crop, crop:w - crop]
    return a, b


def _peak(a: np.ndarray, b: np.ndarray, peak, what: str) -> float:
    if peak is not None:
        peak = float(peak)
        if not peak > 0 or not math.isfinite(peak):
            raise InputValueError(f"{what}: peak must be a positive finite number, got {peak}")
        return peak
    if a.dtype != b.dtype:
        raise InputDtypeError(f"{what}: images of different dtypes ({a.dtype}, {b.dtype}) need an explicit peak")
    return peak_of(a.dtype)


def mse(a: np.ndarray, b: np.ndarray, crop: int = 0) -> float:
    """Mean squared error over all pixels and channels, in float64, after cropping ``crop`` px per border."""
    a, b = _check_pair(a, b, crop, "mse")
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr_from_mse(err: float, peak: float) -> float:
    """``10 log10(peak^2 / err)``; ``inf`` for a zero error."""
    return math.inf if err == 0 else 10.0 * math.log10(peak * peak / err)


def psnr(a: np.ndarray, b: np.ndarray, crop: int = 0, peak: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all channels.

    Args:
        a, b: images of the same shape (``HxW`` or ``HxWxC``), unsigned-integer or float.
        crop: pixels removed on each border before comparing.
        peak: the signal peak; by default from the dtype (255 for uint8, 65535 for uint16, 1.0 for
            floats), which then must be the same for both images.

    Returns:
        PSNR in dB (``inf`` for identical images).

    Raises:
        InputShapeError: the shapes differ or are not images.
        InputDtypeError: unsupported dtype, or different dtypes without ``peak``.
        InputSizeError: ``crop`` leaves no pixel.
    """
    a, b = _check_pair(a, b, crop, "psnr")
    peak = _peak(a, b, peak, "psnr")
    d = a.astype(np.float64) - b.astype(np.float64)
    return psnr_from_mse(float(np.mean(d * d)), peak)


def rgb_psnr(a_bgr: np.ndarray, b_bgr: np.ndarray, crop: int = 0, peak: float | None = None) -> float:
    """:func:`psnr` of two 3-channel images (the channel order does not matter)."""
    for name, x in (("a_bgr", a_bgr), ("b_bgr", b_bgr)):
        if isinstance(x, np.ndarray) and (x.ndim != 3 or x.shape[2] != 3):
            raise InputShapeError(f"rgb_psnr: {name} must be HxWx3, got shape {x.shape}")
    return psnr(a_bgr, b_bgr, crop=crop, peak=peak)


def bgr_to_y(image_bgr: np.ndarray) -> np.ndarray:
    """BT.601 luma of a BGR image on the 8-bit scale (16-235), float64, not rounded.

    Integer images are read on [0, 1] through their dtype's full range (uint8 / 255, uint16 / 65535);
    float images are taken as [0, 1].
    """
    if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        shape = getattr(image_bgr, "shape", type(image_bgr).__name__)
        raise InputShapeError(f"bgr_to_y: expected an HxWx3 BGR image, got {shape}")
    rgb01 = image_bgr.astype(np.float64) / peak_of(image_bgr.dtype)
    kr, kg, kb = _Y_RGB
    return _Y_OFFSET + kr * rgb01[..., 2] + kg * rgb01[..., 1] + kb * rgb01[..., 0]


def y_psnr(a_bgr: np.ndarray, b_bgr: np.ndarray, crop: int = 0) -> float:
    """PSNR on BT.601 luma (MATLAB ``rgb2ycbcr`` Y, 8-bit scale, peak 255), for super-resolution.

    The luma is kept in float (not rounded to 8 bits), as in the common Python evaluation code;
    use ``crop = scale`` for the usual super-resolution protocol. Both images must have the same
    shape and dtype.
    """
    a, b = _check_pair(a_bgr, b_bgr, crop, "y_psnr")
    if a.dtype != b.dtype:
        raise InputDtypeError(f"y_psnr: the two images must have the same dtype, got {a.dtype} and {b.dtype}")
    d = bgr_to_y(a) - bgr_to_y(b)
    return psnr_from_mse(float(np.mean(d * d)), 255.0)


def mean_psnr(values: Iterable[float]) -> float:
    """Mean of per-image PSNRs: the averaging convention of the reported validation figures."""
    values = [float(v) for v in values]
    if not values:
        raise InputSizeError("mean_psnr: expected at least one PSNR value")
    return float(np.mean(values))
