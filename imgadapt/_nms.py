"""Thin edges from a boundary probability map: non-maximum suppression across the local orientation.

The orientation is the dominant gradient orientation of the probability around the pixel: the
principal eigenvector of its structure tensor (gradients of the map smoothed with a Gaussian of
sigma 1, their products averaged with sigma 2). A boundary is a ridge of the map; its flanks'
gradients point across it on both sides, so the window orients the ridge itself, where the gradient
vanishes. A pixel is kept when its probability is at least ``threshold``, above its neighbour one
pixel across on one side and not below the one on the other side (bilinear interpolation), so a
plateau two pixels wide keeps one of them. The output follows ``cv2.Canny``: uint8, 255 on edges, 0 elsewhere.
"""
from __future__ import annotations

import cv2
import numpy as np

from ._errors import InputDtypeError, InputValueError


def check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise InputDtypeError(f"threshold: expected a number in (0, 1], got {type(threshold).__name__}")
    if not 0.0 < float(threshold) <= 1.0:
        raise InputValueError(f"threshold: expected a number in (0, 1], got {threshold}")
    return float(threshold)


def thin_edges(prob: np.ndarray, threshold: float = 0.5, sigma: float = 1.0) -> np.ndarray:
    """Non-maximum suppression of an ``HxW`` float32 probability map; uint8 0/255 ``HxW``."""
    threshold = check_threshold(threshold)
    prob = np.ascontiguousarray(prob, dtype=np.float32)
    if prob.ndim != 2:
        raise InputValueError(f"probability map: expected an HxW array, got shape {prob.shape}")
    smooth = cv2.GaussianBlur(prob, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = (cv2.GaussianBlur(g, (0, 0), 2 * sigma) for g in (gx * gx, gy * gy, gx * gy))
    normal = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    dx, dy = np.cos(normal).astype(np.float32), np.sin(normal).astype(np.float32)
    h, w = prob.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ahead = cv2.remap(prob, x + dx, y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    behind = cv2.remap(prob, x - dx, y - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    keep = (prob >= threshold) & (prob > ahead) & (prob >= behind)
    return keep.astype(np.uint8) * np.uint8(255)
