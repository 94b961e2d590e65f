"""Super-resolution networks working on the low-resolution luma (Y) image."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.pafu import PAFU
from .demosaic import StructureFeatures


def _shuffle_weight(scale: int) -> torch.Tensor:
    w = torch.zeros(scale * scale, 1, scale, scale)
    for i in range(scale):
        for j in range(scale):
            w[i * scale + j, 0, i, j] = 1.0
    return w


def depth_to_space(x: torch.Tensor, scale: int) -> torch.Tensor:
    """``(N, s*s, h, w) -> (N, 1, s*h, s*w)`` as ``pixel_shuffle``, written as a strided transposed
    convolution with a one-hot kernel: exact, and faster than DepthToSpace on onnxruntime."""
    return F.conv_transpose2d(x, _shuffle_weight(scale).to(x.dtype), stride=scale)


class PafuLinearSR(nn.Module):
    """Linear PAFU super-resolution: a learned, data-driven RAISR on the low-resolution image.

    A compact selector on structure-tensor features of the low-resolution luma picks one kernel
    of the group per pixel; the kernel maps the pixel's neighbourhood to its ``scale**2``
    high-resolution sub-pixels, which depth-to-space puts in place.

    Shape:
        ``(N, 1, h, w)`` luma -> ``(N, 1, scale*h, scale*w)``
    """

    def __init__(self, scale: int, kernel_sizes: Sequence[int] = (5,) * 16, selector_channels: int = 16,
                 selector_depth: int = 2, structure_sigmas: Sequence[float] = (1.0,)):
        super().__init__()
        if not isinstance(scale, int) or scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
        self.scale = scale
        self.features = StructureFeatures(structure_sigmas)
        self.pafu = PAFU(1, scale * scale, kernel_sizes, selector_channels=selector_channels,
                         selector_depth=selector_depth, selector_in_channels=self.features.channels)

    @property
    def receptive_field(self) -> int:
        """Side of the low-resolution window an output sub-pixel depends on."""
        selector = 2 * (self.features.radius + self.pafu.selector_depth) + 1
        return max(selector, self.pafu.max_kernel_size)

    def guide(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space(self.pafu(x, self.guide(x)), self.scale)


from . import register  # noqa: E402

for _scale in (2, 3, 4):
    register(f"sr/pafu-linear-x{_scale}")(lambda _s=_scale, **kw: PafuLinearSR(_s, **kw))
register("sr/pafu-linear-tiny-x2")(lambda **kw: PafuLinearSR(2, **{"kernel_sizes": (3, 3, 5), "selector_channels": 4,
                                                                  "selector_depth": 1, **kw}))
