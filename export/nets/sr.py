"""Super-resolution networks working on the low-resolution luma (Y) image."""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.envelope import DisentangledConv
from ..layers.pafu import PAFU
from .demosaic import StructureFeatures


def _shuffle_weight(scale: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot kernels putting channel ``i * scale + j`` at sub-pixel ``(i, j)``, on ``like``'s device."""
    return torch.eye(scale * scale, device=like.device, dtype=like.dtype).reshape(scale * scale, 1, scale, scale)


def depth_to_space(x: torch.Tensor, scale: int) -> torch.Tensor:
    """``(N, s*s, h, w) -> (N, 1, s*h, s*w)`` as ``pixel_shuffle``, written as a strided transposed
    convolution with a one-hot kernel: exact, and faster than DepthToSpace on onnxruntime."""
    return F.conv_transpose2d(x, _shuffle_weight(scale, x), stride=scale)


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


class PafuEspcn(nn.Module):
    """ESPCN-style non-linear super-resolution with a PAFU output layer (paper section 5.2).

    A rectified body of three convolutions (5x5, 3x3, 3x3; ``features`` maps each) embeds the
    low-resolution luma. A PAFU whose selector runs on those embeddings filters them (one of
    ``kernels`` 3x3 kernels per pixel, with a bias) into a correction of the ``scale**2`` sub-pixels
    of a linear path, the linear PAFU upscaler (which can start from a trained ``sr/pafu-linear``
    model); depth-to-space puts them in place. ``plain=True`` builds the ablation: a plain 3x3
    convolution in place of the PAFU, the linear path a 5x5 convolution. ``envelope=True`` puts the
    middle 3x3 behind a learned Gaussian envelope (disentangled convolution). ``depth`` is the number
    of 3x3 convolutions after the 5x5 one (2 in ESPCN; 3 learns markedly more at the same steps).

    Shape:
        ``(N, 1, h, w)`` luma -> ``(N, 1, scale*h, scale*w)``
    """

    def __init__(self, scale: int, features: int = 32, kernels: int = 16, radius: int = 2,
                 selector_channels: int = 16, linear_kernel_sizes: Sequence[int] = (5,) * 16, plain: bool = False,
                 envelope: bool = False, depth: int = 2):
        super().__init__()
        if not isinstance(scale, int) or scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
        self.scale, self.plain = scale, plain
        f = features
        if plain:
            self.skip = nn.Conv2d(1, scale * scale, 5, padding=2, bias=False)
        else:
            self.skip = PafuLinearSR(scale, linear_kernel_sizes)
        self.embed = nn.Conv2d(1, f, 5, padding=2)
        self.body = DisentangledConv(f, f, 3, radius=radius) if envelope and not plain else nn.Conv2d(f, f, 3, padding=1)
        self.refine = nn.Conv2d(f, f, 3, padding=1)
        self.extra = nn.ModuleList(nn.Conv2d(f, f, 3, padding=1) for _ in range(depth - 2))
        if plain:
            self.out = nn.Conv2d(f, scale * scale, 3, padding=1)
        else:
            self.out = PAFU(f, scale * scale, (3,) * kernels, selector_channels=selector_channels, selector_depth=1,
                            bias=True)
            # One random offset per sub-pixel for every kernel, as a convolution's default bias: a
            # correction starting at exactly zero lets the rectified body die within a few hundred
            # steps (fewer than 1 % of its units alive, no gain over the linear path).
            bound = (9 * f) ** -0.5
            with torch.no_grad():
                self.out.bias.copy_(torch.empty(1, scale * scale).uniform_(-bound, bound).expand_as(self.out.bias))
        # Output weights at a convolution's default scale: started near zero (as a correction to the
        # linear path might suggest), the body learns several times more slowly.
        bound = (9 * f) ** -0.5
        with torch.no_grad():
            self.out.weight.uniform_(-bound, bound)

    def init_from_linear(self, linear: PafuLinearSR) -> None:
        """Take a trained linear PAFU upscaler (selector, features, possibly pruned kernel group) as
        the linear path."""
        if self.plain or linear.scale != self.scale:
            raise ValueError(f"expected a x{self.scale} linear PAFU for a non-plain network, got x{linear.scale}")
        self.skip = copy.deepcopy(linear)

    @property
    def receptive_field(self) -> int:
        body = self.body.receptive_field // 2 if isinstance(self.body, DisentangledConv) else 1
        out = 1 if self.plain else max(1, self.out.selector_depth + 1)
        linear = 2 if self.plain else self.skip.receptive_field // 2
        return 2 * max(2 + body + 1 + len(self.extra) + out, linear) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.skip(x) if self.plain else self.skip.pafu(x, self.skip.guide(x))
        h = F.relu(self.refine(F.relu(self.body(F.relu(self.embed(x))))))
        for conv in self.extra:
            h = F.relu(conv(h))
        return depth_to_space(base + self.out(h), self.scale)


from .registry import register  # noqa: E402

_NET, _LINEAR = "export.train.sr_runs:train_sr_net", "export.train.sr_runs:train_sr_linear"
# The plain networks are the defaults: on val/ they beat their PAFU counterparts at every scale.
for _scale in (2, 3, 4):
    register(f"sr/pafu-espcn-x{_scale}", kind="nonlinear", trainer=_NET, default_rank=2)(
        lambda _s=_scale, **kw: PafuEspcn(_s, **kw))
    register(f"sr/pafu-espcn-plain-x{_scale}", kind="nonlinear", trainer=_NET, default_rank=3)(
        lambda _s=_scale, **kw: PafuEspcn(_s, **{**kw, "plain": True}))
    register(f"sr/pafu-linear-x{_scale}", kind="linear", trainer=_LINEAR, default_rank=1)(
        lambda _s=_scale, **kw: PafuLinearSR(_s, **kw))
register("sr/pafu-espcn-tiny-x2", kind="nonlinear")(
    lambda **kw: PafuEspcn(2, **{"features": 4, "kernels": 3, "radius": 1, "selector_channels": 4,
                                 "linear_kernel_sizes": (3, 5), **kw}))
register("sr/pafu-linear-tiny-x2", kind="linear")(
    lambda **kw: PafuLinearSR(2, **{"kernel_sizes": (3, 3, 5), "selector_channels": 4, "selector_depth": 1, **kw}))
