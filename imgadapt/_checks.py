"""Input checks and dtype conversions for the array conventions (OpenCV-like HxW / HxWx3 BGR)."""
from __future__ import annotations

import difflib
from typing import Iterable

import cv2
import numpy as np

from .errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError, UnknownNameError

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_DTYPE_NAMES = "uint8, uint16, float32 or float64"

# Float images hold values in [0, 1]; values this far outside are taken as rounding noise of a float
# pipeline (a few float32 steps at 1.0) and accepted as they are, anything further is refused.
FLOAT_TOLERANCE = 1e-5


def check_image(image, *, name: str = "image", channels: Iterable[int] = (1, 3),
                min_size: int = 1, unit_range: bool = True) -> np.ndarray:
    """Validate an image array and return it unchanged (no copy).

    Args:
        image: ``HxW`` or ``HxWxC`` array.
        name: what the array is called in error messages.
        channels: accepted channel counts; 1 means a 2-D ``HxW`` array (``HxWx1`` is accepted too).
        min_size: smallest accepted height and width.
        unit_range: float arrays must hold values in [0, 1] (:data:`FLOAT_TOLERANCE` of rounding
            noise allowed): 0-255 data in a float array, or anything else outside that range, is
            refused, never clipped. ``False`` (measuring tools that take any float values) only
            requires finite values.

    Checking float values costs one min and one max pass and no temporary array.

    Returns:
        ``image``, or for ``HxWx1`` (when 1 channel is accepted) its ``HxW`` view.

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
    if image.dtype.kind == "f":
        check_float_range(image, name, unit_range)
    return image


def check_float_range(image: np.ndarray, name: str = "image", unit_range: bool = True) -> None:
    """Raise :class:`InputValueError` unless the float ``image`` is finite and (with ``unit_range``)
    within [0, 1], give or take :data:`FLOAT_TOLERANCE`; NaN and inf propagate into the min and max."""
    if not image.size:
        return
    lo, hi = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputValueError(f"{name}: expected finite values, got NaN or inf")
    if unit_range and (lo < -FLOAT_TOLERANCE or hi > 1.0 + FLOAT_TOLERANCE):
        raise InputValueError(
            f"{name}: expected float values in [0, 1] (give or take {FLOAT_TOLERANCE:g} of rounding), got values "
            f"from {lo:.6g} to {hi:.6g}; divide 8-bit data by 255 (16-bit by 65535) or pass the integer array")


def white_scale(dtype: np.dtype, white_level, name: str = "white_level") -> float:
    """The validated full scale ``white_level`` of integer data of ``dtype``."""
    if isinstance(white_level, (bool, np.bool_)) or not isinstance(white_level, (int, float, np.integer, np.floating)):
        raise InputDtypeError(f"{name}: expected a number, got {type(white_level).__name__}")
    if dtype.kind == "f":
        raise InputDtypeError(f"{name} applies to integer data (float data is in [0, 1]), got dtype {dtype}")
    full = np.iinfo(dtype).max
    value = float(white_level)
    if not (np.isfinite(value) and 1.0 <= value <= full):
        raise InputValueError(f"{name}: expected a number in [1, {full}] for {dtype} data (the value of "
                              f"full scale, e.g. 4095 for 12-bit data), got {white_level!r}")
    return value


def check_white_level(white_level, image: np.ndarray, name: str = "image") -> float | None:
    """Validate ``white_level`` for the integer ``image`` (``None`` passes): a finite number in
    ``[1, dtype max]``, and no value of ``image`` above it (data above its own full scale is refused,
    not clipped). Returns it as a float."""
    if white_level is None:
        return None
    value = white_scale(np.dtype(image.dtype), white_level)
    top = int(np.max(image)) if image.size else 0
    if top > value:
        raise InputValueError(f"{name}: expected values up to white_level {value:g}, got values up to {top}; "
                              "pass the data's real full scale as white_level, or clip the data")
    return value


def check_int_option(value, name: str, minimum: int, allow_none: bool = True) -> int | None:
    """An integer option (tile, threads, ...): ``None`` where allowed, else an integer (not a bool) of
    at least ``minimum``, returned as a plain ``int``.

    Raises:
        InputDtypeError: a bool, float, string or other non-integer; InputValueError: below ``minimum``.
    """
    expected = f"{'None or ' if allow_none else ''}an integer >= {minimum}"
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputDtypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise InputValueError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def check_bool_option(value, name: str) -> bool:
    """A yes/no option: ``True`` or ``False`` (numpy bools too), nothing that merely converts to one."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputDtypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def to_float(image: np.ndarray, white_level: float | None = None) -> np.ndarray:
    """Map an image to float32 in [0, 1] (integer types by their full range or ``white_level``).

    Floats are not range-checked here (:func:`check_image` does that once per frame); this runs per tile.
    """
    if white_level is not None:
        scale = white_scale(image.dtype, white_level)
    elif image.dtype.kind == "u":
        scale = full_scale(image.dtype)
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


def full_scale(dtype) -> float:
    """The value of full scale of ``dtype``: its maximum for unsigned integers, otherwise 1.0."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


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
