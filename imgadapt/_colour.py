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


def camera_to_srgb(xyz_to_camera) -> np.ndarray:
    """The 3x3 camera RGB -> linear sRGB matrix for a camera's XYZ -> camera matrix, as dcraw does.

    ``cam_rgb = xyz_to_camera @ XYZ_FROM_SRGB`` maps sRGB to camera RGB; its rows are scaled to
    sum to 1, so that white-balanced camera white (1, 1, 1) is sRGB white, and it is inverted.

    Args:
        xyz_to_camera: 3x3 (rows R, G, B of the camera), e.g. LibRaw's ``rgb_xyz_matrix[:3]`` or a
            DNG ``ColorMatrix1``.

    Example:
        >>> import numpy as np
        >>> m = camera_to_srgb(np.linalg.inv(XYZ_FROM_SRGB))   # a camera that sees sRGB
        >>> bool(np.allclose(m, np.eye(3)))
        True
    """
    m = np.asarray(xyz_to_camera, dtype=np.float64)
    if m.shape != (3, 3) or not np.isfinite(m).all():
        raise InputShapeError(f"xyz_to_camera: expected a finite 3x3 matrix, got shape {m.shape}")
    cam_rgb = m @ XYZ_FROM_SRGB
    sums = cam_rgb.sum(axis=1, keepdims=True)
    if np.any(np.abs(sums) < 1e-9):
        raise InputValueError("xyz_to_camera: a row maps sRGB white to 0; the matrix is not a camera's")
    return np.linalg.pinv(cam_rgb / sums)


def apply_matrix(bgr: np.ndarray, matrix_rgb: np.ndarray) -> np.ndarray:
    """``HxWx3`` float32 BGR image transformed by a 3x3 RGB matrix (one OpenCV pass)."""
    m = np.asarray(matrix_rgb, dtype=np.float64)[::-1, ::-1]
    return cv2.transform(bgr, np.ascontiguousarray(m))


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1) of float32 data in [0, 1]; a new array.

    Example:
        >>> import numpy as np
        >>> srgb_encode(np.array([0.0, 0.0031308, 0.18, 1.0], np.float32)).round(4).tolist()
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
