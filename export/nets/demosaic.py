"""Demosaicking networks on the packed (2x2 space-to-depth) RGGB mosaic."""
from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.envelope import DisentangledConv
from ..layers.pafu import PAFU

# (colour, site) of the 8 values a packed RGGB pixel lacks; sites 0..3 are R, G(0,1), G(1,0), B.
MISSING = ((0, 1), (0, 2), (0, 3), (1, 0), (1, 3), (2, 0), (2, 1), (2, 2))
KNOWN = ((0, 0), (1, 1), (1, 2), (2, 3))
def _site_weight(entries) -> torch.Tensor:
    """One-hot 2x2 kernels ``(len(entries), 3, 2, 2)`` putting entry i at colour c, site s."""
    w = torch.zeros(len(entries), 3, 2, 2)
    for i, (c, site) in enumerate(entries):
        w[i, c, site // 2, site % 2] = 1.0
    return w


# Space-to-depth and depth-to-space as strided (transposed) convolutions with one-hot kernels: exact,
# and on onnxruntime several times faster than the SpaceToDepth / DepthToSpace kernels. The
# assembly kernel also puts every value at its colour and site, so no channel reordering is needed.
_PACK = _site_weight(KNOWN).sum(1, keepdim=True)
_ASSEMBLE = _site_weight(KNOWN + MISSING)


def pack_mosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """RGGB mosaic ``(N, 1, H, W)`` to the packed ``(N, 4, H/2, W/2)``: R, G(0,1), G(1,0), B."""
    return F.conv2d(mosaic, _PACK.to(mosaic.device, mosaic.dtype), stride=2)


def missing_targets(rgb: torch.Tensor) -> torch.Tensor:
    """The 8 missing values of every packed pixel, ``(N, 3, H, W) -> (N, 8, H/2, W/2)``."""
    planes = [F.pixel_unshuffle(rgb[:, c:c + 1], 2) for c in range(3)]
    return torch.stack([planes[c][:, s] for c, s in MISSING], 1)


def assemble(packed: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """Packed mosaic ``(N, 4, h, w)`` and its 8 missing values to RGB ``(N, 3, 2h, 2w)``."""
    return F.conv_transpose2d(torch.cat([packed, missing], 1), _ASSEMBLE.to(packed.device, packed.dtype), stride=2)


class StructureFeatures(nn.Module):
    """Local structure of the packed mosaic, as seen by the kernel selector.

    For every window scale ``sigma``, 4 maps of the structure tensor of the luminance: ``cos 2θ``
    and ``sin 2θ`` weighted by anisotropy, the anisotropy ``(λ1 - λ2) / (λ1 + λ2)``, and the log
    gradient energy; with ``with_mosaic``, also the 4 packed samples minus their local mean. The
    selector can then sort pixels by edge orientation, strength and colour the way a
    structure-tensor hash does, and beyond.
    """

    def __init__(self, sigmas: Sequence[float] = (1.5,), with_mosaic: bool = False):
        super().__init__()
        if isinstance(sigmas, (int, float)):
            sigmas = (float(sigmas),)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.with_mosaic = with_mosaic
        r = int(math.ceil(2 * max(self.sigmas)))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        windows = []
        for sigma in self.sigmas:
            g = torch.exp(-t ** 2 / (2 * sigma ** 2))
            windows += [g / g.sum()] * 3
        sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
        self.register_buffer("grad", torch.stack([sobel, sobel.T])[:, None] / 4, persistent=False)
        self.register_buffer("smooth", torch.stack(windows)[:, None, None, :], persistent=False)
        self.register_buffer("box", torch.full((4, 1, 3, 3), 1.0 / 9), persistent=False)
        self.radius = r + 1

    @property
    def channels(self) -> int:
        return 4 * len(self.sigmas) + (4 if self.with_mosaic else 0)

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        lum = packed.sum(1, keepdim=True)
        g = F.conv2d(lum, self.grad, padding=1)
        gx, gy = g[:, :1], g[:, 1:]
        products = torch.cat([gx * gx, gy * gy, gx * gy] * len(self.sigmas), 1)
        r = self.smooth.shape[-1] // 2
        j = F.conv2d(products, self.smooth, padding=(0, r), groups=products.shape[1])
        j = F.conv2d(j, self.smooth.transpose(2, 3), padding=(r, 0), groups=products.shape[1])
        maps = []
        for i in range(len(self.sigmas)):
            jxx, jyy, jxy = j[:, 3 * i:3 * i + 1], j[:, 3 * i + 1:3 * i + 2], j[:, 3 * i + 2:3 * i + 3]
            trace = jxx + jyy + 1e-6
            c, s = (jxx - jyy) / trace, 2 * jxy / trace
            maps += [c, s, torch.sqrt(c * c + s * s + 1e-12), torch.log(trace) / 4]
        if self.with_mosaic:
            maps.append(packed - F.conv2d(packed, self.box, padding=1, groups=4))
        return torch.cat(maps, 1)


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

    def __init__(self, kernel_sizes: Sequence[int] = (3,) * 9 + (5,) * 8, selector_channels: int = 16,
                 selector_depth: int = 2, structure_sigmas: Sequence[float] = (1.5,),
                 with_mosaic: bool = False):
        super().__init__()
        self.features = StructureFeatures(structure_sigmas, with_mosaic)
        self.pafu = PAFU(4, len(MISSING), kernel_sizes, selector_channels=selector_channels,
                         selector_depth=selector_depth, selector_in_channels=self.features.channels)

    @property
    def receptive_field(self) -> int:
        """Side of the sensor-pixel window an output pixel depends on."""
        selector = 2 * (self.features.radius + self.pafu.selector_depth) + 1
        return 2 * max(selector, self.pafu.max_kernel_size) + 2

    def guide(self, packed: torch.Tensor) -> torch.Tensor:
        return self.features(packed)

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        packed = pack_mosaic(mosaic)
        return assemble(packed, self.pafu(packed, self.guide(packed)))


class _Block(nn.Module):
    """Residual block: two 3x3 convolutions (each behind a Gaussian envelope unless ``plain``)."""

    def __init__(self, channels: int, radius: int, plain: bool, init_sigma: float = 1.0):
        super().__init__()

        def conv():
            if plain:
                return nn.Conv2d(channels, channels, 3, padding=1)
            return DisentangledConv(channels, channels, 3, radius=radius, init_sigma=init_sigma)
        self.a, self.b = conv(), conv()

    @property
    def radius(self) -> int:
        return sum(m.receptive_field // 2 if isinstance(m, DisentangledConv) else 1 for m in (self.a, self.b))

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class PafuNetDemosaic(nn.Module):
    """Non-linear demosaicking: a PAFU input layer and a residual body of disentangled convolutions.

    The input PAFU filters the packed mosaic into a linear estimate of the 8 missing values per
    2x2 block (it can start from a trained linear PAFU model). A 3x3 convolution embeds the mosaic
    and that estimate into ``features`` maps, a residual body whose 3x3 convolutions sit behind
    learned Gaussian envelopes refines them, and a 3x3 head adds a correction to the estimate.
    ``plain=True`` builds the ablation: the same network with a plain convolution in place of the
    PAFU and plain 3x3 convolutions in place of the disentangled ones; ``plain_body=True`` keeps the
    PAFU and makes only the body plain (its ablation is then ``plain=True`` at equal multiply-adds
    but for the selector). With ``denoise=True`` the
    head also corrects the 4 measured values of every block, which otherwise pass through
    unchanged (exact on clean data, but they carry the sensor noise of a noisy mosaic).

    Shape:
        ``(N, 1, H, W)`` RGGB mosaic, H and W even -> ``(N, 3, H, W)`` RGB
    """

    def __init__(self, kernel_sizes: Sequence[int] = (3,) * 9 + (5,) * 8, features: int = 24, blocks: int = 4,
                 radius: int = 2, selector_channels: int = 16, selector_depth: int = 2,
                 structure_sigmas: Sequence[float] = (1.5,), with_mosaic: bool = False, plain: bool = False,
                 init_sigma: float = 1.0, denoise: bool = False, plain_body: bool = False):
        super().__init__()
        self.plain = plain
        self.plain_body = plain or plain_body
        self.denoise = denoise
        if plain:
            k = max(kernel_sizes)
            self.input = nn.Conv2d(4, len(MISSING), k, padding=k // 2, bias=False)
        else:
            self.features = StructureFeatures(structure_sigmas, with_mosaic)
            self.input = PAFU(4, len(MISSING), kernel_sizes, selector_channels=selector_channels,
                              selector_depth=selector_depth, selector_in_channels=self.features.channels)
        self.embed = nn.Conv2d(4 + len(MISSING), features, 3, padding=1)
        self.body = nn.Sequential(*[_Block(features, radius, self.plain_body, init_sigma) for _ in range(blocks)])
        self.head = nn.Conv2d(features, len(MISSING) + (len(KNOWN) if denoise else 0), 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def receptive_field(self) -> int:
        if self.plain:
            first = self.input.kernel_size[0] // 2
        else:
            first = max(self.features.radius + self.input.selector_depth, self.input.max_kernel_size // 2)
        radius = first + 1 + sum(b.radius for b in self.body) + 1
        return 2 * (2 * radius + 1) + 2

    def init_from_linear(self, linear: PafuLinearDemosaic) -> None:
        """Start the input PAFU (selector, structure features and kernels) from a linear model,
        taking its kernel group as it is (a pruned group included)."""
        if self.plain:
            raise ValueError("the plain ablation has no PAFU to initialise")
        self.input = copy.deepcopy(linear.pafu)
        self.features = copy.deepcopy(linear.features)

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        packed = pack_mosaic(mosaic)
        if self.plain:
            linear = self.input(packed)
        else:
            linear = self.input(packed, self.features(packed))
        hidden = self.body(F.relu(self.embed(torch.cat([packed, linear], 1))))
        correction = self.head(hidden)
        if self.denoise:
            packed = packed + correction[:, len(MISSING):]
            correction = correction[:, :len(MISSING)]
        return assemble(packed, linear + correction)

    def load_clean(self, state_dict: dict) -> None:
        """Start a denoising network from a clean one of the same body: the head's corrections of
        the measured values start at zero."""
        state = dict(state_dict)
        if self.denoise and state["head.weight"].shape[0] == len(MISSING):
            weight, bias = torch.zeros_like(self.head.weight), torch.zeros_like(self.head.bias)
            weight[:len(MISSING)], bias[:len(MISSING)] = state["head.weight"], state["head.bias"]
            state["head.weight"], state["head.bias"] = weight, bias
        self.load_state_dict(state)


from .registry import register, register_variant  # noqa: E402


# The linear model is the default: above LibRaw AHD at several times its speed.
@register("demosaic/pafu-linear", kind="linear", trainer="export.train.demosaic_runs:train_demosaic_linear",
          default_rank=1)
def pafu_linear(**kw):
    # 3x3 and 5x5 packed pixels hold the 5x5 and 7x7 sensor windows around every output site.
    return PafuLinearDemosaic(**{"kernel_sizes": (3,) * 9 + (5,) * 8, **kw})


@register("demosaic/pafu-linear-tiny", kind="linear")
def pafu_linear_tiny(**kw):
    return PafuLinearDemosaic(**{"kernel_sizes": (3, 3, 5), "selector_channels": 4, "selector_depth": 1, **kw})


# Envelopes train with 9 taps (radius 4) from a narrow start (sigma 0.5, close to the identity), so
# the body begins as a plain residual network and widens its receptive field where that helps.
_NET_DEFAULTS = {"kernel_sizes": (3,) * 9 + (5,) * 8, "radius": 4, "init_sigma": 0.5}


@register("demosaic/pafu-net", kind="nonlinear", trainer="export.train.demosaic_runs:train_demosaic_net")
def pafu_net(**kw):
    return PafuNetDemosaic(**{**_NET_DEFAULTS, **kw})


@register("demosaic/pafu-net-plain", kind="nonlinear", trainer="export.train.demosaic_runs:train_demosaic_net")
def pafu_net_plain(**kw):
    return PafuNetDemosaic(**{**_NET_DEFAULTS, **kw, "plain": True})


@register("demosaic/pafu-net-tiny", kind="nonlinear")
def pafu_net_tiny(**kw):
    return PafuNetDemosaic(**{"kernel_sizes": (3, 3, 5), "features": 4, "blocks": 1, "radius": 1,
                              "selector_channels": 4, "selector_depth": 1, **kw})


# Joint demosaicking and denoising: the same networks with a head that also corrects the measured values.
register_variant("demosaic/pafu-net-denoise", of="demosaic/pafu-net", denoise=True)
register_variant("demosaic/pafu-net-plain-denoise", of="demosaic/pafu-net-plain", denoise=True)
