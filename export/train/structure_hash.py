"""A hand-made structure-tensor hash (orientation, coherence, strength), as in RAISR.

Used to give a kernel group its first per-pixel assignment before a learned selector exists.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def structure_hash(image: torch.Tensor, classes: int, sigma: float = 1.5, flat: float = 0.01,
                   coherent: float = 0.35) -> torch.Tensor:
    """Class per pixel of ``(N, C, H, W)`` (channels averaged): 0 for flat regions, then
    ``(classes - 1) // 2`` orientation bins, each split into low and high coherence.

    Returns:
        ``(N, H, W)`` long tensor with values in ``[0, classes)``.
    """
    angles = max((classes - 1) // 2, 1)
    lum = image.mean(1, keepdim=True)
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=lum.dtype).view(1, 1, 3, 3) / 8
    gx = F.conv2d(lum, sobel, padding=1)
    gy = F.conv2d(lum, sobel.transpose(2, 3), padding=1)
    r = int(math.ceil(2 * sigma))
    t = torch.arange(-r, r + 1, dtype=lum.dtype)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = (g[:, None] * g[None]) / g.sum() ** 2
    g = g.view(1, 1, 2 * r + 1, 2 * r + 1)
    jxx, jyy, jxy = (F.conv2d(v, g, padding=r) for v in (gx * gx, gy * gy, gx * gy))
    trace, disc = jxx + jyy, torch.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    l1, l2 = ((trace + disc) / 2).clamp(min=0).sqrt(), ((trace - disc) / 2).clamp(min=0).sqrt()
    coherence = (l1 - l2) / (l1 + l2 + 1e-8)
    angle = 0.5 * torch.atan2(2 * jxy, jxx - jyy)
    bin_ = ((angle + math.pi / 2) / math.pi * angles).long().clamp(0, angles - 1)
    label = 1 + bin_ + angles * (coherence > coherent).long()
    label = torch.where(l1 < flat, torch.zeros_like(label), label)
    return label[:, 0].clamp(max=classes - 1)
