"""Clipped highlights in RAW development, as dcraw's ``-H`` modes handle them.

The sensor clips each colour at the white level; after white balance the channels clip at
different levels (the least amplified one at 1, a channel amplified k times at k). dcraw offers:

- ``clip`` (``-H 0``): every channel is clipped at 1, the level of the least amplified one, so
  blown highlights are neutral white; the detail and colour above that level are lost
  (done on the mosaic, before demosaicking, in :func:`imgadapt.raw.develop`);
- ``blend`` (``-H 2``, :func:`blend`): where a channel exceeds 1, the pixel keeps its unclipped
  lightness and hue with the chroma of its clipped version, a soft transition to white;
- ``reconstruct`` (``-H 3`` and up rebuild; :func:`reconstruct` here): a channel that clipped on
  the sensor is rebuilt from the pixel's channels that did not, with the colour ratios of the
  unclipped pixels around it; a pixel where every channel clipped is neutral at its brightest
  reading.

Both work on white-balanced, demosaicked camera RGB (``HxWx3`` float32 BGR) in which the least
amplified channel saturates at 1 (a channel amplified k times more at k), and return values above
1, which an exposure below 0 EV brings into range.
"""
from __future__ import annotations

import cv2
import numpy as np

# A sample at this fraction of the white level or above counts as clipped (sensors often clip a
# little below the white level they record).
CLIPPED_FRACTION = 0.99
# Pixels of the demosaicked image that a clipped sample can reach (the model's kernels are small
# at their core): the clipped mask is widened by this many 2x2 Bayer blocks.
_SPREAD_BLOCKS = 2
# The colour ratios of the unclipped surroundings are gathered on blocks of this many pixels.
_RATIO_BLOCK = 8

# dcraw's blend_highlights: lightness (R + G + B) and two chroma axes, and the inverse (times 3).
_TO_LAB = np.array([[1.0, 1.0, 1.0], [1.7320508, -1.7320508, 0.0], [-1.0, -1.0, 2.0]])
_FROM_LAB = np.array([[1.0, 0.8660254, -0.5], [1.0, -0.8660254, -0.5], [1.0, 0.0, 1.0]]) / 3.0


def blend(bgr: np.ndarray, level: float = 1.0) -> np.ndarray:
    """dcraw's highlight blending (``-H 2``), in place: each pixel with a channel above ``level``
    (where the least amplified channel clipped) gets the lightness and hue of its values and the
    chroma magnitude of its values clipped at ``level``."""
    over = (bgr > level).any(axis=2)
    if not over.any():
        return bgr
    rgb = bgr[over][:, ::-1].astype(np.float64)
    lab = rgb @ _TO_LAB.T
    clipped = np.minimum(rgb, level) @ _TO_LAB.T
    chroma = np.sum(lab[:, 1:] ** 2, axis=1)
    ratio = np.sqrt(np.divide(np.sum(clipped[:, 1:] ** 2, axis=1), chroma, out=np.ones_like(chroma),
                              where=chroma > 0))
    lab[:, 1:] *= ratio[:, None]
    bgr[over] = (lab @ _FROM_LAB.T)[:, ::-1].astype(np.float32)
    return bgr


def clipped_blocks(clipped_sites: np.ndarray, pattern: str) -> np.ndarray:
    """``(H/2)x(W/2)x3`` bool (BGR), one cell per 2x2 Bayer block: the channels that a clipped
    sensor sample may have touched in the demosaicked image, from the ``HxW`` mask of clipped
    samples (widened by two blocks, the reach of the model's kernels' cores)."""
    h, w = clipped_sites.shape
    blocks = np.zeros(((h + 1) // 2, (w + 1) // 2, 3), np.uint8)
    index = {"B": 0, "G": 1, "R": 2}
    for k, colour in enumerate(pattern):
        dy, dx = divmod(k, 2)
        site = clipped_sites[dy::2, dx::2]
        blocks[:site.shape[0], :site.shape[1], index[colour]] |= site.astype(np.uint8)
    size = 2 * _SPREAD_BLOCKS + 1
    return cv2.dilate(blocks, np.ones((size, size), np.uint8)).astype(bool)


def _fill(sums: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Push-pull: ``sums / weight`` where ``weight > 0``, elsewhere the same quotient of ever
    coarser averages, so that every block gets the ratios of its nearest measured blocks."""
    if weight.min() > 0 or weight.max() <= 0 or min(weight.shape) <= 1:
        return sums / np.maximum(weight, 1e-12)[..., None]
    h, w = weight.shape
    small_w = cv2.resize(weight, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    small_s = cv2.resize(sums, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(_fill(small_s, small_w), (w, h), interpolation=cv2.INTER_LINEAR)
    here = weight > 0
    out = coarse.copy()
    out[here] = sums[here] / weight[here][:, None]
    return out


def reconstruct(bgr: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Rebuild clipped channels, in place.

    Args:
        bgr: ``HxWx3`` float32 white-balanced camera RGB (BGR).
        blocks: the clipped channels of each 2x2 block (:func:`clipped_blocks`).

    Colour ratios (chromaticity, weighted by brightness) are gathered from the pixels none of
    whose channels clipped, on blocks of 8x8 pixels, and carried into the clipped regions from
    the nearest measured blocks (push-pull). A pixel with some channels clipped is scaled from
    its reliable channels: ``k = sum(reliable values) / sum(their ratios)``, and each clipped
    channel becomes ``max(value, k * ratio)``: never darker than it was. A pixel with every
    channel clipped holds no colour: it becomes neutral at its brightest reading (white wherever
    the clipped image is white, brighter than ``clip`` makes it). The work is proportional to the
    clipped pixels, plus one block average of the image.
    """
    touched = blocks.any(axis=2)
    if not touched.any():
        return bgr
    h, w = bgr.shape[:2]
    by, bx = np.nonzero(touched)
    ys = (by[:, None] * 2 + np.array([0, 0, 1, 1])).ravel()
    xs = (bx[:, None] * 2 + np.array([0, 1, 0, 1])).ravel()
    clip = np.repeat(blocks[by, bx], 4, axis=0)
    inside = (ys < h) & (xs < w)
    ys, xs, clip = ys[inside], xs[inside], clip[inside]
    values = bgr[ys, xs].astype(np.float64)
    # block sums of the unclipped pixels: all pixels' block means, less the clipped pixels
    b = max(1, min(_RATIO_BLOCK, h, w))
    gh, gw = h // b, w // b
    sums = cv2.resize(bgr[:gh * b, :gw * b], (gw, gh), interpolation=cv2.INTER_AREA).astype(np.float64)
    sums = sums.reshape(-1, 3) * (b * b)
    in_grid = (ys < gh * b) & (xs < gw * b)
    cell = (ys[in_grid] // b) * gw + xs[in_grid] // b
    for c in range(3):
        sums[:, c] -= np.bincount(cell, weights=values[in_grid, c], minlength=gh * gw)
    weight = (b * b - np.bincount(cell, minlength=gh * gw)).astype(np.float64)
    sums, weight = sums.reshape(gh, gw, 3).astype(np.float32), weight.reshape(gh, gw).astype(np.float32)
    if weight.max() <= 0:  # nothing unclipped anywhere: neutral
        ratios_small = np.full(sums.shape, 1.0 / 3.0, np.float32)
    else:
        filled = _fill(sums, weight)
        total = filled.sum(axis=2, keepdims=True)
        ratios_small = np.where(total > 1e-12, filled / np.maximum(total, 1e-12), 1.0 / 3.0).astype(np.float32)
    # bilinear look-up of the block ratios at the clipped pixels only
    map_x = ((xs + 0.5) / b - 0.5).astype(np.float32)[None]
    map_y = ((ys + 0.5) / b - 0.5).astype(np.float32)[None]
    ratios = cv2.remap(ratios_small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
    ratios = np.maximum(ratios.astype(np.float64), 1e-6)
    reliable = ~clip
    some = reliable.any(axis=1)
    k = np.sum(values * reliable, axis=1) / np.maximum(np.sum(ratios * reliable, axis=1), 1e-12)
    rebuilt = np.where(clip, np.maximum(values, k[:, None] * ratios), values)
    rebuilt[~some] = values[~some].max(axis=1, keepdims=True)
    bgr[ys, xs] = rebuilt.astype(np.float32)
    return bgr
