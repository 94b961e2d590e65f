"""Boundary-detection networks on the gray image: boundary logits, a sigmoid probability when exported.

In training mode ``forward`` returns the logits (for a numerically stable BCE with logits); in eval
mode, which is what export traces, it returns the probability ``sigmoid(logits)``.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.col import CoL
from ..layers.gaussian_derivative import GaussianDerivativeConv
from ..layers.pafu import PAFU
from ..layers.steerable import DynamicSteerableConv


def _constant(t: torch.Tensor) -> torch.Tensor:
    """A tensor detached from the parameters, recorded as a constant by a trace."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.tensor(t.detach().tolist(), dtype=t.dtype, device=t.device)


class FoldedGD(GaussianDerivativeConv):
    """A separated Gaussian-derivative convolution whose export holds two plain ``Conv`` nodes with the
    folded (basis x coefficients) weights instead of the kernel-construction subgraph."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() and not self.training:
            depthwise, pointwise = (_constant(w) for w in self.separated_weights())
            bias = None if self.bias is None else _constant(self.bias)
            h = F.conv2d(x, depthwise, None, padding=self.kernel_size // 2, groups=self.in_channels)
            return F.conv2d(h, pointwise, bias)
        return super().forward(x)


def frame(in_channels: int, out_channels: int, multiplier: int, size: int, plain: bool) -> nn.Module:
    """A depthwise ``size x size`` stage of ``multiplier`` maps per input channel and a 1x1 mix:
    Gaussian-derivative kernels (order 2, two oriented bases, sigma 1 at start), or free weights for
    the plain ablation (the same graph and cost)."""
    if plain:
        return nn.Sequential(nn.Conv2d(in_channels, in_channels * multiplier, size, padding=size // 2,
                                       groups=in_channels, bias=False),
                             nn.Conv2d(in_channels * multiplier, out_channels, 1))
    return FoldedGD(in_channels, out_channels, order=2, n_bases=2, kernel_size=size, init_sigma=1.0,
                    separated=True, depth_multiplier=multiplier)


class _Residual(nn.Module):
    radius = 2  # two 3x3 convolutions

    def __init__(self, channels: int):
        super().__init__()
        self.a = nn.Conv2d(channels, channels, 3, padding=1)
        self.b = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.b.weight)

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class _Probability(nn.Module):
    multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"edges network input: expected shape (N, 1, H, W), got {tuple(x.shape)}")
        logits = self.logits(x)
        return logits if self.training else torch.sigmoid(logits)


class GdColEdges(_Probability):
    """Gaussian-derivative frames, a co-occurrence layer and a residual body at half resolution.

    The gray input and its CoL filtering (8 value bins, 5x5, an edge-aware smoothing learned through
    the co-occurrence matrix) feed a Gaussian-derivative frame at full resolution; a stride-2 3x3
    convolution takes its features to half resolution, where a second frame (sigma 1 there, 2 in the
    image) and ``blocks`` residual 3x3 blocks work at a quarter of the cost; a 4x4 stride-2 transposed
    convolution brings them back, and a 1x1 + 3x3 head on both resolutions gives one logit per pixel.
    ``plain=True`` is the ablation: the CoL becomes a free 5x5 convolution and the frames free
    depthwise + 1x1 convolutions of the same sizes.

    The stride makes the output depend on the pixel's phase: tiles must start at even offsets
    (``multiple`` = 2; the runtime does this from the card's ``input.multiple``).

    Shape:
        ``(N, 1, H, W) -> (N, 1, H, W)``
    """

    multiple = 2

    def __init__(self, features: int = 16, blocks: int = 2, multiplier: int = 6, bins: int = 8,
                 plain: bool = False):
        super().__init__()
        self.plain = plain
        self.col = nn.Conv2d(1, 1, 5, padding=2) if plain else CoL(1, bins=bins, kernel_size=5)
        self.frame = frame(2, features, multiplier, 7, plain)
        self.down = nn.Conv2d(features, features, 3, stride=2, padding=1)
        self.frame_low = frame(features, features, 1, 7, plain)
        self.body = nn.Sequential(*[_Residual(features) for _ in range(blocks)])
        self.up = nn.ConvTranspose2d(features, features, 4, stride=2, padding=1)
        self.mix = nn.Conv2d(2 * features, features // 2, 1)
        self.head = nn.Conv2d(features // 2, 1, 3, padding=1)
        self.blocks = blocks

    @property
    def receptive_field(self) -> int:
        full = 2 + 3                                  # CoL 5x5, then the 7x7 frame
        low = 3 + sum(b.radius for b in self.body)    # the half-resolution frame and body, in low-res pixels
        up = (full + 1) + 2 * low + 2                 # the stride-2 3x3, the body (x2), the 4x4 transpose
        return 2 * (max(full, up) + 1) + 1            # the 3x3 head

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        f = F.relu(self.frame(torch.cat([x, self.col(x)], 1)))
        low = self.body(F.relu(self.frame_low(F.relu(self.down(f)))))
        up = F.relu(self.up(low))[..., :x.shape[2], :x.shape[3]]
        return self.head(F.relu(self.mix(torch.cat([f, up], 1))))


class GdPafuEdges(_Probability):
    """A compact, fast boundary net: Gaussian-derivative frames at full and quarter resolution and a
    PAFU output layer.

    A 7x7 frame (order 2, two oriented bases) makes ``features`` rectified maps of the gray image.
    Their 4x4 means go through two more 7x7 frames at quarter resolution (sigma 4 to 8 in image
    pixels: the context that tells a region border from the texture inside a region, at 1/16 of
    the cost) and come back by bilinear upsampling. A PAFU whose selector (one 3x3 layer) reads the
    fine and the context maps picks one of ``kernels`` 3x3 kernels per pixel to turn them into the
    logit. ``plain=True``: free depthwise + 1x1 frames, and in place of the PAFU a 3x3 convolution
    to ``2 * kernels`` rectified maps and a 1x1 to the logit.

    The 4x4 means make the output depend on the pixel's phase: tiles start at multiples of 4
    (``multiple``).

    Shape:
        ``(N, 1, H, W) -> (N, 1, H, W)``
    """

    multiple = 4

    def __init__(self, features: int = 8, multiplier: int = 4, kernels: int = 8, selector_channels: int = 8,
                 plain: bool = False):
        super().__init__()
        self.plain = plain
        self.frame = frame(1, features, multiplier, 7, plain)
        self.context = nn.Sequential(frame(features, features, 1, 7, plain), nn.ReLU(),
                                     frame(features, features, 1, 7, plain), nn.ReLU())
        if plain:
            self.out = nn.Sequential(nn.Conv2d(2 * features, 2 * kernels, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(2 * kernels, 1, 1))
        else:
            self.out = PAFU(2 * features, 1, (3,) * kernels, selector_channels=selector_channels, selector_depth=1,
                            bias=True)

    @property
    def receptive_field(self) -> int:
        # the two 7x7 context frames and the bilinear upsampling reach 3 + 3 + 1 quarter pixels of
        # 4 image pixels; the fine frame 3 and the 3x3 output 2 more
        return 2 * (4 * (3 + 3 + 1) + 3 + 2) + 1

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        f = F.relu(self.frame(x))
        h, w = x.shape[2], x.shape[3]
        low = self.context(F.avg_pool2d(f, 4, ceil_mode=True, count_include_pad=False))
        up = F.interpolate(low, scale_factor=4.0, mode="bilinear", align_corners=False)[..., :h, :w]
        return self.out(torch.cat([f, up], 1))


class _SteerableResidual(nn.Module):
    """Residual block whose first convolution is a dynamic steerable one (Jacobsen's DynResBlock), or
    its static frame for the ablation."""

    def __init__(self, channels: int, dynamic: bool):
        super().__init__()
        self.a = DynamicSteerableConv(channels, channels, order=2, sigma=1.0, pose_channels=8, dynamic=dynamic)
        self.b = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.b.weight)

    @property
    def radius(self) -> int:
        pose = 3 if self.a.dynamic else 0  # three 3x3 layers read the frame around the pixel
        return self.a.size // 2 + pose + 1

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class GdDynEdges(GdColEdges):
    """:class:`GdColEdges` whose half-resolution body alternates dynamic steerable and static residual
    blocks, as the thesis's boundary network does (DynResBlock -> StatResBlock): in each dynamic
    block a small network estimates, per pixel and channel, the angle to which an order-2
    Gaussian-derivative frame is turned before the 1x1 mix. ``dynamic=False`` is the ablation: the
    same blocks with the frame unturned (no pose network).

    Shape:
        ``(N, 1, H, W) -> (N, 1, H, W)``
    """

    def __init__(self, features: int = 16, blocks: int = 2, multiplier: int = 6, bins: int = 8,
                 dynamic: bool = True):
        super().__init__(features, blocks, multiplier, bins, plain=False)
        self.dynamic = dynamic
        self.body = nn.Sequential(*[_SteerableResidual(features, dynamic) if i % 2 == 0 else _Residual(features)
                                    for i in range(blocks)])


from .registry import register  # noqa: E402

# the compact, fast variant: half the features, one residual block, fewer frame maps and CoL bins
LITE = {"features": 8, "blocks": 1, "multiplier": 3, "bins": 4}
_TRAINER = "export.train.edges:train_edges"
_BUILDERS = {
    "edges/gd-col": (lambda **kw: GdColEdges(**kw),
                     "Gaussian-derivative frames (order 2, two oriented bases; 7x7 at full and at half resolution), "
                     "a co-occurrence layer (8 bins, 5x5) on the gray input and a residual 3x3 body at half "
                     "resolution; one boundary logit per pixel, sigmoid probability."),
    "edges/gd-col-lite": (lambda **kw: GdColEdges(**{**LITE, **kw}),
                          "Compact, fast variant of edges/gd-col: Gaussian-derivative frames (order 2, two oriented "
                          "bases; 7x7 at full and at half resolution, 3 maps per input), a co-occurrence layer (4 "
                          "bins, 5x5) on the gray input, 8 features and one residual 3x3 block at half resolution; "
                          "sigmoid probability."),
    "edges/gd-pafu": (lambda **kw: GdPafuEdges(**kw),
                      "Compact boundary net: a 7x7 Gaussian-derivative frame (order 2, two oriented bases), two "
                      "more at quarter resolution on its 4x4 means for context, and a PAFU output layer choosing "
                      "one of 8 3x3 kernels per pixel from the fine and context maps; sigmoid probability."),
}
# The most accurate model is the default; the adaptive models rank above their ablations (0).
_DEFAULT_RANKS = {"edges/gd-col": 2, "edges/gd-col-lite": 1, "edges/gd-pafu": 1, "edges/gd-dyn": 1}
for _name, (_build, _description) in _BUILDERS.items():
    register(_name, kind="nonlinear", trainer=_TRAINER, description=_description,
             default_rank=_DEFAULT_RANKS[_name])(_build)
    register(_name + "-plain", kind="nonlinear", trainer=_TRAINER,
             description=f"Plain-convolution ablation of {_name} (same graph, free weights).")(
        lambda _b=_build, **kw: _b(**{**kw, "plain": True}))
register("edges/gd-col-tiny", kind="nonlinear")(
    lambda **kw: GdColEdges(**{"features": 4, "blocks": 1, "multiplier": 1, "bins": 3, **kw}))
register("edges/gd-dyn", kind="nonlinear", trainer=_TRAINER, default_rank=_DEFAULT_RANKS["edges/gd-dyn"],
         description="edges/gd-col with a half-resolution body of a dynamic steerable residual block (an order-2 "
                     "Gaussian-derivative frame turned per pixel and channel by a 3-layer pose network) and a "
                     "static residual block; sigmoid probability.")(lambda **kw: GdDynEdges(**kw))
register("edges/gd-dyn-static", kind="nonlinear", trainer=_TRAINER,
         description="Ablation of edges/gd-dyn: its steerable block's frame left unturned (no pose network); "
                     "sigmoid probability.")(lambda **kw: GdDynEdges(**{**kw, "dynamic": False}))
