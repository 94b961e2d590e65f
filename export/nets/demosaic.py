"""Demosaicking networks on the packed (2x2 space-to-depth) RGGB mosaic."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.pafu import PAFU

# (colour, site) of the 8 values a packed RGGB pixel lacks; sites 0..3 are R, G(0,1), G(1,0), B.
MISSING = ((0, 1), (0, 2), (0, 3), (1, 0), (1, 3), (2, 0), (2, 1), (2, 2))
KNOWN = ((0, 0), (1, 1), (1, 2), (2, 3))


def missing_targets(rgb: torch.Tensor) -> torch.Tensor:
    """The 8 missing values of every packed pixel, ``(N, 3, H, W) -> (N, 8, H/2, W/2)``."""
    planes = [F.pixel_unshuffle(rgb[:, c:c + 1], 2) for c in range(3)]
    return torch.stack([planes[c][:, s] for c, s in MISSING], 1)


def assemble(packed: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """Packed mosaic ``(N, 4, h, w)`` and its 8 missing values to RGB ``(N, 3, 2h, 2w)``."""
    source = {cs: packed[:, cs[1]:cs[1] + 1] for cs in KNOWN}
    source.update({cs: missing[:, j:j + 1] for j, cs in enumerate(MISSING)})
    full = torch.cat([source[(c, s)] for c in range(3) for s in range(4)], 1)
    return F.pixel_shuffle(full, 2)


class StructureFeatures(nn.Module):
    """Orientation and strength of the local structure tensor of the packed mosaic's luminance.

    Returns 4 maps: ``cos 2θ`` and ``sin 2θ`` weighted by anisotropy, the anisotropy
    ``(λ1 - λ2) / (λ1 + λ2)``, and ``log`` of the gradient energy; the selector sees these, so it
    can sort pixels by edge orientation and strength the way a structure-tensor hash does.
    """

    def __init__(self, sigma: float = 1.5):
        super().__init__()
        r = int(math.ceil(2 * sigma))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        g = torch.exp(-t ** 2 / (2 * sigma ** 2))
        g = g / g.sum()
        sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
        self.register_buffer("grad", torch.stack([sobel, sobel.T])[:, None] / 4)
        self.register_buffer("smooth", (g[:, None] * g[None]).expand(3, 1, -1, -1).clone())
        self.radius = r + 1

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        lum = packed.sum(1, keepdim=True)
        g = F.conv2d(lum, self.grad, padding=1)
        gx, gy = g[:, :1], g[:, 1:]
        j = F.conv2d(torch.cat([gx * gx, gy * gy, gx * gy], 1), self.smooth, padding=self.smooth.shape[-1] // 2,
                     groups=3)
        jxx, jyy, jxy = j[:, :1], j[:, 1:2], j[:, 2:]
        trace = jxx + jyy + 1e-6
        c, s = (jxx - jyy) / trace, 2 * jxy / trace
        return torch.cat([c, s, torch.sqrt(c * c + s * s + 1e-12), torch.log(trace) / 4], 1)


class PafuLinearDemosaic(nn.Module):
    """Linear PAFU demosaicking: a spatially varying linear filter of the packed mosaic.

    A compact selector looks at the quarter-resolution packed mosaic and picks, per 2x2 block,
    one kernel of the group; the kernel maps the block's neighbourhood to the block's 8 missing
    colour values. Measured values pass through unchanged.

    Args:
        kernel_sizes: support of each kernel on the packed grid (odd; 5 covers 10x10 sensor pixels).
        selector_channels: width of the selection CNN.
        selector_depth: 3x3 layers of the selection CNN.

    Shape:
        ``(N, 1, H, W)`` RGGB mosaic, H and W even -> ``(N, 3, H, W)`` RGB
    """

    def __init__(self, kernel_sizes: Sequence[int] = (5,) * 16, selector_channels: int = 16,
                 selector_depth: int = 2, structure_sigma: float = 1.5):
        super().__init__()
        self.features = StructureFeatures(structure_sigma)
        self.pafu = PAFU(4, len(MISSING), kernel_sizes, selector_channels=selector_channels,
                         selector_depth=selector_depth, selector_in_channels=4)

    @property
    def receptive_field(self) -> int:
        """Side of the sensor-pixel window an output pixel depends on."""
        selector = 2 * (self.features.radius + self.pafu.selector_depth) + 1
        return 2 * max(selector, self.pafu.max_kernel_size) + 2

    def guide(self, packed: torch.Tensor) -> torch.Tensor:
        return self.features(packed)

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        packed = F.pixel_unshuffle(mosaic, 2)
        return assemble(packed, self.pafu(packed, self.guide(packed)))


from . import register  # noqa: E402


@register("demosaic/pafu-linear")
def pafu_linear(kernel_sizes=(5,) * 12 + (7,) * 4, selector_channels=16, selector_depth=2):
    return PafuLinearDemosaic(kernel_sizes, selector_channels, selector_depth)


@register("demosaic/pafu-linear-tiny")
def pafu_linear_tiny(kernel_sizes=(3, 3, 5), selector_channels=4, selector_depth=1):
    return PafuLinearDemosaic(kernel_sizes, selector_channels, selector_depth)
