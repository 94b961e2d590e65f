"""Bayer patterns: names, OpenCV codes, mosaicking and the phase shift to canonical RGGB.

Patterns are named by the sensor's top-left 2x2 block, read row by row. OpenCV names its
codes differently: ``cv2.COLOR_BayerBG2BGR`` is the code for an RGGB sensor.
"""
from __future__ import annotations

import cv2
import numpy as np

from ._checks import check_choice

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")

OPENCV_CODES = {
    "RGGB": cv2.COLOR_BayerBG2BGR,
    "BGGR": cv2.COLOR_BayerRG2BGR,
    "GRBG": cv2.COLOR_BayerGB2BGR,
    "GBRG": cv2.COLOR_BayerGR2BGR,
}

_CHANNEL_INDEX_BGR = {"B": 0, "G": 1, "R": 2}


def check_pattern(pattern: str) -> str:
    """Return the pattern in upper case or raise :class:`UnknownNameError`."""
    return check_choice(pattern.upper() if isinstance(pattern, str) else pattern, PATTERNS, "Bayer pattern")


def opencv_code(pattern: str, variant: str = "") -> int:
    """OpenCV ``cvtColor`` code for a sensor pattern; ``variant`` is ``""``, ``"VNG"`` or ``"EA"``."""
    pattern = check_pattern(pattern)
    opencv_name = {"RGGB": "BG", "BGGR": "RG", "GRBG": "GB", "GBRG": "GR"}[pattern]
    variant = check_choice(variant, ("", "VNG", "EA"), "OpenCV demosaicking variant")
    return getattr(cv2, f"COLOR_Bayer{opencv_name}2BGR" + (f"_{variant}" if variant else ""))


def channel_masks(pattern: str, height: int, width: int) -> np.ndarray:
    """Boolean ``HxWx3`` masks, in BGR order, of the sites that sample each colour."""
    pattern = check_pattern(pattern)
    masks = np.zeros((height, width, 3), dtype=bool)
    for k, colour in enumerate(pattern):
        dy, dx = divmod(k, 2)
        masks[dy::2, dx::2, _CHANNEL_INDEX_BGR[colour]] = True
    return masks


def mosaic(image_bgr: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample a BGR image with a Bayer colour filter array; returns ``HxW`` of the same dtype."""
    masks = channel_masks(pattern, *image_bgr.shape[:2])
    return (image_bgr * masks).sum(axis=2, dtype=image_bgr.dtype)


def rggb_offset(pattern: str) -> tuple[int, int]:
    """Row and column where the first R site of ``pattern`` lies: (0|1, 0|1)."""
    k = check_pattern(pattern).index("R")
    return divmod(k, 2)


def align_to_rggb(mosaic_hw: np.ndarray, pattern: str, multiple: int = 2):
    """Pad a mosaic (at least 2x2) so it reads RGGB from the top-left and has sizes divisible by ``multiple``.

    Mirror padding that skips the edge row (``BORDER_REFLECT_101``) keeps the colour phase
    of every added row and column consistent with the pattern.

    Returns:
        ``(padded, (top, left))``; crop ``padded[top:top+H, left:left+W]`` to undo it.
    """
    top, left = rggb_offset(pattern)
    h, w = mosaic_hw.shape[:2]
    bottom = (-(h + top)) % multiple
    right = (-(w + left)) % multiple
    if top == left == bottom == right == 0:
        return mosaic_hw, (0, 0)
    padded = cv2.copyMakeBorder(np.ascontiguousarray(mosaic_hw), top, bottom, left, right,
                                cv2.BORDER_REFLECT_101)
    return padded, (top, left)
