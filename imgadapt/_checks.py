"""Input checks and dtype conversions for the array conventions (OpenCV-like HxW / HxWx3 BGR)."""
from __future__ import annotations

import difflib
from typing import Iterable

import cv2
import numpy as np

from ._errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError, UnknownNameError

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_DTYPE_NAMES = "uint8, uint16, float32 or float64"


def check_image(image, *, name: str = "image", channels: Iterable[int] = (1, 3),
                min_size: int = 1) -> np.ndarray:
    """Validate an image array and return it unchanged (no copy).

    Args:
        image: ``HxW`` or ``HxWxC`` array.
        name: what the array is called in error messages.
        channels: accepted channel counts; 1 means a 2-D ``HxW`` array (``HxWx1`` is accepted too).
        min_size: smallest accepted height and width.

    Raises:
        InputDtypeError, InputShapeError, InputSizeError, InputValueError.
    """
    if not isinstance(image, np.ndarray):
        raise InputDtypeError(f"{name}: expected a numpy.ndarray, got {type(image).__name__}")
    if image.dtype.type not in SUPPORTED_DTYPES:
        raise InputDtypeError(f"{name}: expected dtype {_DTYPE_NAMES}, got {image.dtype}")
    channels = tuple(channels)
    allowed = " or ".join(("HxW" if c == 1 else f"HxWx{c}") for c in channels)
    if image.ndim == 3 and image.shape[2] == 1 and 1 in channels:
        image = image[:, :, 0]
    if image.ndim == 2:
        if 1 not in channels:
            raise InputShapeError(f"{name}: expected {allowed}, got a 2-D array of shape {image.shape}")
    elif image.ndim == 3:
        if image.shape[2] not in channels:
            raise InputShapeError(f"{name}: expected {allowed}, got shape {image.shape}")
    else:
        raise InputShapeError(f"{name}: expected {allowed}, got {image.ndim}-D array of shape {image.shape}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise InputSizeError(f"{name}: expected a non-empty array, got shape {image.shape}")
    if h < min_size or w < min_size:
        raise InputSizeError(f"{name}: expected at least {min_size}x{min_size} pixels, got {h}x{w}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise InputValueError(f"{name}: expected finite values, got NaN or inf")
    return image


def to_float(image: np.ndarray, white_level: float | None = None) -> np.ndarray:
    """Map an image to float32 in [0, 1] (integer types by their full range or ``white_level``)."""
    if white_level is not None:
        if image.dtype.kind == "f":
            raise InputDtypeError(f"white_level applies to integer data, got dtype {image.dtype}")
        full = np.iinfo(image.dtype).max
        if isinstance(white_level, bool) or not isinstance(white_level, (int, float, np.integer, np.floating)):
            raise InputDtypeError(f"white_level: expected a number, got {type(white_level).__name__}")
        if not 0 < white_level <= full:
            raise InputValueError(f"white_level: expected a value in (0, {full}] for {image.dtype}, got {white_level}")
        scale = float(white_level)
    elif image.dtype.kind == "u":
        scale = float(np.iinfo(image.dtype).max)
    else:
        return image.astype(np.float32, copy=False)
    return image.astype(np.float32) * np.float32(1.0 / scale)


def from_float(image: np.ndarray, dtype: np.dtype, white_level: float | None = None) -> np.ndarray:
    """Inverse of :func:`to_float`: integers are rounded and clipped, floats keep their values.

    ``image`` is ``HxW`` or ``HxWxC`` (C <= 4); integer conversion runs in one OpenCV pass.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return image.astype(dtype, copy=False)
    full = float(np.iinfo(dtype).max)
    scale = float(white_level) if white_level is not None else full
    depth = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.uint16): cv2.CV_16U}[dtype]
    out = cv2.multiply(np.ascontiguousarray(image, dtype=np.float32), (scale,) * 4, dtype=depth)
    if scale < full:
        np.minimum(out, int(scale), out=out)
    return out


def check_choice(value: str, choices: Iterable[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise with close matches suggested."""
    choices = list(choices)
    if not isinstance(value, str):
        raise InputDtypeError(f"{what}: expected a string, got {type(value).__name__}")
    if value in choices:
        return value
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}{hint}")
