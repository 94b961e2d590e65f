"""Colour for RAW development: camera RGB -> linear sRGB as dcraw builds it, automatic exposure
as LibRaw's, the sRGB transfer curve, and LibRaw's orientation codes.

Matrices act on RGB column vectors; images are BGR (OpenCV), so :func:`apply_matrix` reverses
rows and columns before transforming.

:func:`finish` is the last stage of development in as few passes over the image as OpenCV allows:
one ``cv2.transform`` (colour matrix, exposure gain and output scale in one matrix) that also
rounds and clips to 16-bit integers, and for the sRGB curve one lookup in a 65536-entry table, as
LibRaw does; float output keeps the exact curve.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from ..errors import InputShapeError, InputValueError

# Linear sRGB (D65) -> XYZ, the table dcraw and LibRaw use (xyz_rgb).
XYZ_FROM_SRGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])

# White-balance multipliers further apart than this are a broken record or a typo, not a light
# source: daylight to tungsten moves the R/B ratio by about 3, and no camera's needs 1000.
MAX_WB_RATIO = 1e3
# A camera colour matrix this ill-conditioned amplifies noise and rounding without bound; the
# matrices of real cameras (camera RGB -> sRGB) have condition numbers of about 2 to 5.
MAX_MATRIX_CONDITION = 1e3


def _numbers(values) -> str:
    """``(a, b, c)`` with each number in ``%g`` form (the values as they arrived, shortened)."""
    try:
        return "(" + ", ".join(f"{float(v):g}" for v in np.ravel(np.asarray(values, dtype=np.float64))) + ")"
    except (TypeError, ValueError):
        return repr(values)


def check_multipliers(values, what: str = "wb") -> np.ndarray:
    """White-balance multipliers (R, G, B) as float64, or an ``InputValueError`` saying why not.

    They must be 3 finite, positive numbers within a factor of :data:`MAX_WB_RATIO` of each other
    (only their ratios matter; anything further apart whitens or blackens whole channels).

    Example:
        >>> check_multipliers((2.0, 1.0, 1.5)).tolist()
        [2.0, 1.0, 1.5]
    """
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        v = np.empty(0)
    expected = (f"expected 3 positive multipliers (R, G, B), finite and within a factor of {MAX_WB_RATIO:g} "
                "of each other")
    if v.shape != (3,) or not np.isfinite(v).all() or v.min() <= 0:
        raise InputValueError(f"{what}: {expected}, got {_numbers(values) if v.size else repr(values)}")
    ratio = v.max() / v.min()
    if not ratio <= MAX_WB_RATIO:  # also catches an overflowing ratio (inf)
        raise InputValueError(f"{what}: {expected}, got {_numbers(v)} (largest / smallest = {ratio:.3g})")
    return v


def check_matrix(matrix, what: str = "camera_to_srgb") -> np.ndarray:
    """A camera colour matrix as a float64 3x3, or an ``InputValueError`` saying why it cannot be
    used: it must be finite and invertible with a condition number up to :data:`MAX_MATRIX_CONDITION`
    (an all-zero, singular or nearly singular matrix turns images black or into noise)."""
    m = np.asarray(matrix, dtype=np.float64)
    expected = f"expected a finite, invertible 3x3 matrix (condition number up to {MAX_MATRIX_CONDITION:g})"
    if m.shape != (3, 3):
        raise InputValueError(f"{what}: {expected}, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputValueError(f"{what}: {expected}, got one holding NaN or inf: {_numbers(m)}")
    if not m.any():
        raise InputValueError(f"{what}: {expected}, got all zeros")
    cond = np.linalg.cond(m)
    if not cond <= MAX_MATRIX_CONDITION:
        kind = "a singular" if not np.isfinite(cond) or cond > 1e12 else "an ill-conditioned"
        raise InputValueError(f"{what}: {expected}, got {kind} one (condition number {cond:.3g}): {_numbers(m)}")
    return m


def camera_to_srgb(xyz_to_camera) -> np.ndarray:
    """The 3x3 camera RGB -> linear sRGB matrix for a camera's XYZ -> camera matrix, as dcraw does.

    ``cam_rgb = xyz_to_camera @ XYZ_FROM_SRGB`` maps sRGB to camera RGB; its rows are scaled to
    sum to 1, so that white-balanced camera white (1, 1, 1) is sRGB white, and it is inverted.

    Args:
        xyz_to_camera: 3x3 (rows R, G, B of the camera), e.g. LibRaw's ``rgb_xyz_matrix[:3]`` or a
            DNG ``ColorMatrix1``.

    Raises:
        InputValueError: the matrix is not finite, all zeros, singular or ill-conditioned (see
            :func:`check_matrix`), or maps sRGB white to 0.

    Example:
        >>> import numpy as np
        >>> m = camera_to_srgb(np.linalg.inv(XYZ_FROM_SRGB))   # a camera that sees sRGB
        >>> bool(np.allclose(m, np.eye(3)))
        True
    """
    m = np.asarray(xyz_to_camera, dtype=np.float64)
    if m.shape != (3, 3):
        raise InputShapeError(f"xyz_to_camera: expected a finite 3x3 matrix, got shape {m.shape}")
    m = check_matrix(m, "xyz_to_camera")
    cam_rgb = m @ XYZ_FROM_SRGB
    sums = cam_rgb.sum(axis=1, keepdims=True)
    if np.any(np.abs(sums) <= 1e-9 * np.abs(cam_rgb).sum(axis=1, keepdims=True)):
        raise InputValueError("xyz_to_camera: a row maps sRGB white to 0; the matrix is not a camera's")
    return check_matrix(np.linalg.inv(cam_rgb / sums), "xyz_to_camera (as camera RGB -> sRGB)")


def bgr_matrix(matrix_rgb) -> np.ndarray:
    """A 3x3 RGB matrix as the matrix that acts on BGR pixels (rows and columns reversed)."""
    return np.ascontiguousarray(np.asarray(matrix_rgb, dtype=np.float64)[::-1, ::-1])


def apply_matrix(bgr: np.ndarray, matrix_rgb: np.ndarray) -> np.ndarray:
    """``HxWx3`` float32 BGR image transformed by a 3x3 RGB matrix (one OpenCV pass)."""
    return cv2.transform(bgr, bgr_matrix(matrix_rgb))


# LibRaw's automatic brightness (dcraw's): each output channel's level that ``AUTO_BRIGHT_THR`` of
# the pixels exceed, the largest of the three mapped to white; never darker than the data, at
# most 8 EV brighter (dcraw's histogram stops at 32 of its 8192 bins).
AUTO_BRIGHT_THR = 0.01
AUTO_MAX_GAIN = 256.0
_AUTO_SAMPLES = 1 << 18  # pixels the percentile is measured on (every n-th row and column)
# LibRaw's default output curve (rawpy ``gamma=(2.222, 4.5)``): BT.709's power 0.45 and toe slope 4.5.
LIBRAW_GAMMA = (0.45, 4.5)
_LEVEL_BINS = 4096


@functools.lru_cache(maxsize=4)
def _dcraw_curve(pwr: float, ts: float) -> tuple[float, float]:
    """``(knee, offset)`` of dcraw's ``gamma_curve(pwr, ts)``: ``x * ts`` below the knee, else
    ``x ** pwr * (1 + offset) - offset``, continuous with a continuous slope (dcraw's bisection)."""
    lo, hi = (0.0, 1.0) if ts >= 1 else (1.0, 0.0)
    g2 = 0.0
    for _ in range(48):
        g2 = (lo + hi) / 2
        if ((g2 / ts) ** -pwr - 1) / pwr - 1 / g2 > -1:
            hi = g2
        else:
            lo = g2
    return g2 / ts, g2 * (1 / pwr - 1)


def libraw_curve(linear: np.ndarray, pwr: float = LIBRAW_GAMMA[0], ts: float = LIBRAW_GAMMA[1]) -> np.ndarray:
    """LibRaw's (dcraw's) output curve of linear values in [0, 1]; by default its BT.709-like
    default (``gamma=(2.222, 4.5)``).

    Example:
        >>> round(float(libraw_curve(np.array(0.18))), 3)
        0.409
    """
    knee, offset = _dcraw_curve(pwr, ts)
    x = np.asarray(linear, dtype=np.float64)
    return np.where(x < knee, x * ts, np.power(np.maximum(x, knee), pwr) * (1 + offset) - offset)


def _srgb_curve(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def libraw_auto_gain(values: np.ndarray, threshold: float = AUTO_BRIGHT_THR) -> float:
    """LibRaw's automatic brightness gain for ``Nx3`` linear output values in [0, 1]: the level
    ``threshold`` of the values of each channel exceed, the largest of the three taken to 1;
    clamped to [1, :data:`AUTO_MAX_GAIN`]."""
    k = min(len(values) - 1, max(0, int(np.ceil(len(values) * (1.0 - threshold))) - 1))
    level = max(float(np.partition(values[:, c], k)[k]) for c in range(values.shape[1]))
    return float(min(AUTO_MAX_GAIN, 1.0 / max(level, 1.0 / AUTO_MAX_GAIN)))


def auto_gain(camera_bgr: np.ndarray, matrix_rgb=None, gamma: str = "srgb",
              threshold: float = AUTO_BRIGHT_THR) -> float:
    """The exposure gain of ``exposure="auto"``: the brightness of LibRaw's default development.

    The image is taken to the output colour space (``matrix_rgb``; ``None`` keeps camera RGB) and
    clipped to [0, 1], as LibRaw's histogram is. LibRaw's gain (:func:`libraw_auto_gain`,
    ``auto_bright_thr=threshold``, ``no_auto_bright=False``) maps the level that ``threshold`` of
    the pixels exceed, in the brightest channel, to white. With ``gamma="linear"`` that is the gain.
    With ``"srgb"`` LibRaw would encode with its default BT.709-like curve
    (:func:`libraw_curve`), which is darker than the sRGB curve (0.409 against 0.461 at 18 %
    grey); the gain returned is the one at which the sRGB-encoded image has the mean level of
    LibRaw's (the same brightness on screen), found by bisection over a histogram of the
    values, but at least 1, so that what clipped on the sensor stays white (with more than
    ``threshold`` of the pixels clipped, LibRaw's gain is 1 and the result is brighter than
    LibRaw's by the difference of the curves). ``camera_bgr`` is float32 (1 = white) or uint16 (65535 = white). Large images are
    measured on every n-th row and column (an odd n, so that every site of the Bayer pattern
    counts), at most 2**18 pixels.

    Example:
        >>> import numpy as np
        >>> ramp = np.repeat(np.linspace(0, 0.5, 1001, dtype=np.float32)[:, None, None], 3, axis=2)
        >>> round(auto_gain(ramp, gamma="linear"), 2)   # 1 % of the pixels lie above 0.495
        2.02
    """
    h, w = camera_bgr.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / _AUTO_SAMPLES))))
    step += 1 - step % 2
    sample = np.ascontiguousarray(camera_bgr[::step, ::step], dtype=np.float32)
    if camera_bgr.dtype == np.uint16:
        sample *= np.float32(1 / 65535)
    if matrix_rgb is not None:
        sample = cv2.transform(sample, bgr_matrix(matrix_rgb))
    values = np.clip(sample.reshape(-1, 3), 0.0, 1.0)
    gain = libraw_auto_gain(values, threshold)
    if gamma == "linear":
        return gain
    # a histogram on a square-root scale (fine in the shadows, where the curves are steep)
    n = _LEVEL_BINS - 1
    counts = np.bincount(np.rint(np.sqrt(values.ravel()) * n).astype(np.int64), minlength=_LEVEL_BINS)
    levels = (np.arange(_LEVEL_BINS) / n) ** 2
    weights = counts / counts.sum()
    target = float(weights @ libraw_curve(np.minimum(levels * gain, 1.0)))
    if target <= 0:
        return gain
    lo, hi = np.log2(gain) - 8.0, np.log2(gain)  # the sRGB curve is brighter: the gain can only fall
    for _ in range(40):
        mid = (lo + hi) / 2
        if weights @ _srgb_curve(np.minimum(levels * 2.0 ** mid, 1.0)) < target:
            lo = mid
        else:
            hi = mid
    return float(max(1.0, 2.0 ** hi))  # never below the sensor's scale: clipped highlights stay white


@functools.lru_cache(maxsize=2)
def srgb_table(bits_out: int) -> np.ndarray:
    """The sRGB curve of the 16-bit linear levels 0..65535, as ``bits_out``-bit (8 or 16) integers,
    rounded; a shared, read-only table (LibRaw builds the same table for its curves)."""
    x = np.arange(65536, dtype=np.float64) / 65535
    curve = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    table = np.rint(curve * ((1 << bits_out) - 1)).astype(np.uint8 if bits_out == 8 else np.uint16)
    table.flags.writeable = False
    return table


def finish(camera_bgr: np.ndarray, matrix_rgb=None, gain: float = 1.0, gamma: str = "srgb",
           dtype=np.float32) -> np.ndarray:
    """Linear camera RGB (``HxWx3`` BGR: float32 with 1 = white, or uint16 with 65535 = white)
    to the output image: the colour matrix (``None``: none) and the exposure ``gain`` in one
    ``cv2.transform``, clipped to [0, 1], the transfer curve (``"srgb"`` or ``"linear"``), as
    ``dtype`` (float32, uint8, uint16; integers rounded). ``camera_bgr`` may be overwritten.

    Integer output is made as LibRaw makes it: linear values rounded to 16 bits (saturating, so
    clipped), then for sRGB one lookup in a 65536-entry table (:func:`srgb_table`), with no float
    power. 16-bit sRGB output is then within a few levels of 65535 of the exact curve (up to 7
    in the deepest shadows, below 0.3 % linear, where the curve's slope is 12.92; at most 1 above
    5 %); 8-bit output within one level. Float output (from float input) is exact.

    Example:
        >>> import numpy as np
        >>> x = np.full((1, 2, 3), 0.18, np.float32)
        >>> finish(x, gamma="srgb", dtype=np.uint8)[0, 0].tolist()
        [118, 118, 118]
    """
    dtype = np.dtype(dtype)
    m = (np.eye(3) if matrix_rgb is None else bgr_matrix(matrix_rgb)) * float(gain)
    x = camera_bgr
    if x.dtype == np.uint16:
        if dtype == np.float32:
            raise TypeError("finish: 16-bit input makes integer output only")
        return _finish_rows(x, m, gamma, dtype)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == np.float32:
        return _finish_float_rows(x, m, gamma)
    return _finish_rows(x, m, gamma, dtype)


_ROWS = 32  # rows per block of _finish_rows: its temporaries stay in the processor's cache


def _finish_float_rows(x: np.ndarray, m: np.ndarray, gamma: str) -> np.ndarray:
    """Float output: the matrix, clipped to [0, 1], the exact transfer curve, a block of rows at a
    time into the input's memory when it may be written (else a new array). The sRGB curve is
    ``min(1.055 * max(x, t) ** (1 / 2.4) - 0.055, 12.92 * x)`` with t = 0.0031308: the power
    branch at t equals the linear one there, lies above it below t and below it above t, so the
    minimum is the curve, without a mask."""
    out = x if x.flags.writeable and x.flags.c_contiguous else np.empty_like(x)
    rows = min(_ROWS, x.shape[0])
    y_block = np.empty((rows,) + x.shape[1:], np.float32)
    p_block = np.empty_like(y_block)
    for r0 in range(0, x.shape[0], _ROWS):
        part = x[r0:r0 + _ROWS]
        n = part.shape[0]
        y = cv2.transform(part, m, dst=y_block[:n])
        np.clip(y, 0.0, 1.0, out=y)
        target = out[r0:r0 + _ROWS]
        if gamma != "srgb":
            target[...] = y
            continue
        power = np.maximum(y, np.float32(0.0031308), out=p_block[:n])
        flat = power.reshape(n, -1)
        cv2.pow(flat, 1.0 / 2.4, dst=flat)
        power *= np.float32(1.055)
        power -= np.float32(0.055)
        np.multiply(y, np.float32(12.92), out=y)
        np.minimum(power, y, out=target)
    return out


def _finish_rows(x: np.ndarray, m: np.ndarray, gamma: str, dtype: np.dtype) -> np.ndarray:
    """Integer output from 16-bit (65535 = 1) or float32 (1 = 1) input: the matrix, rounded and
    saturated to 16-bit linear values, then the sRGB table or the 8-bit scaling, a block of rows
    at a time through small temporaries; 16-bit input with 16-bit output is overwritten in place.
    No large array is made but the output: on a busy machine the first touch of fresh memory
    costs more than the arithmetic."""
    integer = x.dtype == np.uint16
    if integer and not (x.flags.writeable and x.flags.c_contiguous):
        x = x.copy()
    out = x if integer and dtype == np.uint16 else np.empty(x.shape, dtype)
    table = srgb_table(8 if dtype == np.uint8 else 16) if gamma == "srgb" else None
    identity = integer and np.array_equal(m, np.eye(3))
    rows = min(_ROWS, x.shape[0])
    block = np.empty((rows,) + x.shape[1:], np.uint16)
    floats = None if integer else np.empty((rows,) + x.shape[1:], np.float32)
    scale = 1.0 if integer else 65535.0
    for r0 in range(0, x.shape[0], _ROWS):
        part = x[r0:r0 + _ROWS]
        n = part.shape[0]
        if identity:
            linear = part
        elif integer:
            linear = cv2.transform(part, m, dst=block[:n])  # rounds and saturates
        else:
            y = cv2.transform(part, m * scale, dst=floats[:n])
            # rounding, saturating conversion (a single-channel view: a Python number is a
            # 4-channel scalar with zeros for the other channels)
            linear = block[:n]
            cv2.multiply(y.reshape(n, -1), 1.0, dst=linear.reshape(n, -1), dtype=cv2.CV_16U)
        target = out[r0:r0 + _ROWS]
        if table is not None:
            np.take(table, linear, out=target, mode="clip")  # "clip": no bounds pass, no buffering
        elif dtype == np.uint8:
            target[...] = cv2.convertScaleAbs(linear.reshape(n, -1), alpha=255.0 / 65535.0).reshape(linear.shape)
        elif linear is not target:
            target[...] = linear
    return out


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1) of float32 data in [0, 1]; a new array.

    Example:
        >>> import numpy as np
        >>> srgb_encode(np.array([0.0, 0.0031308, 0.18, 1.0], np.float32)).astype(np.float64).round(4).tolist()
        [0.0, 0.0404, 0.4614, 1.0]
    """
    x = np.ascontiguousarray(linear, dtype=np.float32)
    out = cv2.pow(np.maximum(x, np.float32(0.0031308)), 1.0 / 2.4)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    low = x <= np.float32(0.0031308)
    out[low] = x[low] * np.float32(12.92)
    return out


def orient(image: np.ndarray, flip: int) -> np.ndarray:
    """Apply LibRaw's ``sizes.flip`` (dcraw's code): bit 1 mirrors columns, bit 2 mirrors rows,
    bit 4 transposes, in that order. 0 is upright, 3 is 180°, 5 is 90° counter-clockwise and 6 is
    90° clockwise (EXIF orientations 1, 3, 8 and 6)."""
    if isinstance(flip, bool) or not isinstance(flip, (int, np.integer)) or not 0 <= flip <= 7:
        raise InputValueError(f"flip: expected an integer 0..7 (LibRaw sizes.flip), got {flip!r}")
    if flip & 2 and flip & 1:
        image = cv2.rotate(image, cv2.ROTATE_180)
    elif flip & 2:
        image = cv2.flip(image, 0)
    elif flip & 1:
        image = cv2.flip(image, 1)
    if flip & 4:
        image = cv2.transpose(image)
    return image
