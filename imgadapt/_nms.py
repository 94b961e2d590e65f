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

from .errors import InputDtypeError, InputValueError


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


def _triangle_blur(x: np.ndarray, radius: int) -> np.ndarray:
    """Piotr Dollar's ``convTri``: separable triangle filter ``1..r+1..1`` (normalised), symmetric padding."""
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float32)
    kernel /= kernel.sum()
    return cv2.sepFilter2D(x, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def _gradient(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``gradient``: central differences inside, one-sided at the borders; ``(d/dx, d/dy)``."""
    return np.gradient(x, axis=1).astype(np.float32), np.gradient(x, axis=0).astype(np.float32)


def edge_orientation(prob: np.ndarray) -> np.ndarray:
    """Boundary normal angle in ``[0, pi)`` per pixel, as the Structured Edge toolbox computes it
    for its non-maximum suppression: from the second derivatives of the map blurred by ``convTri(., 4)``."""
    ox, oy = _gradient(_triangle_blur(np.ascontiguousarray(prob, dtype=np.float32), 4))
    oxx, _ = _gradient(ox)
    oxy, oyy = _gradient(oy)
    return np.mod(np.arctan(oyy * np.sign(-oxy) / (oxx + 1e-5)), np.pi).astype(np.float32)


def edge_nms(prob: np.ndarray, radius: int = 1, border: int = 5, margin: float = 1.01) -> np.ndarray:
    """Non-maximum suppression of a boundary map as in the Structured Edge toolbox (``edgesNmsMex``),
    the step before thinning in the standard BSDS evaluation of boundary maps.

    A pixel keeps its value unless ``margin`` times it is below the bilinearly interpolated map at
    distance ``1..radius`` along the normal (:func:`edge_orientation`) on either side, else it is
    set to 0; within ``border`` pixels of each image edge values are scaled by the distance to it
    over ``border`` (the edge pixels to 0).

    Args:
        prob: ``HxW`` float map in [0, 1].

    Returns:
        ``HxW`` float32 map, the suppressed pixels 0.
    """
    prob = np.ascontiguousarray(prob, dtype=np.float32)
    if prob.ndim != 2:
        raise InputValueError(f"boundary map: expected an HxW array, got shape {prob.shape}")
    normal = edge_orientation(prob)
    cos, sin = np.cos(normal).astype(np.float32), np.sin(normal).astype(np.float32)
    h, w = prob.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    keep = np.ones(prob.shape, bool)
    scaled = prob * np.float32(margin)
    for d in range(-radius, radius + 1):
        if d:  # positions clamped to the image, as the toolbox's interpolation does
            px, py = np.clip(x + d * cos, 0, w - 1.001), np.clip(y + d * sin, 0, h - 1.001)
            keep &= scaled >= cv2.remap(prob, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = np.where(keep, prob, np.float32(0))
    if border:  # each side's ramp multiplies: corners fade by both
        def ramp(n: int) -> np.ndarray:
            s = min(border, n / 2)
            return np.minimum(np.minimum(np.arange(n), np.arange(n)[::-1]) / np.float32(s), 1).astype(np.float32)
        out = out * ramp(h)[:, None] * ramp(w)[None, :]
    return out.astype(np.float32)
