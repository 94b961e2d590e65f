"""Colour for RAW development: camera RGB -> linear sRGB as dcraw builds it, the sRGB transfer
curve, and LibRaw's orientation codes.

Matrices act on RGB column vectors; images are BGR (OpenCV), so :func:`apply_matrix` reverses
rows and columns before transforming.
"""
from __future__ import annotations

import cv2
import numpy as np

from ._errors import InputShapeError, InputValueError

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


def apply_matrix(bgr: np.ndarray, matrix_rgb: np.ndarray) -> np.ndarray:
    """``HxWx3`` float32 BGR image transformed by a 3x3 RGB matrix (one OpenCV pass)."""
    m = np.asarray(matrix_rgb, dtype=np.float64)[::-1, ::-1]
    return cv2.transform(bgr, np.ascontiguousarray(m))


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
