"""Training data of the super-resolution models, and the linear PAFU upscaler's training."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from imgadapt.bench.resize import downscale

from .data import quantize, random_crops
from .lsq import NormalEquations, patch_features
from .linear import inner, train_linear_pafu

# BT.601 luma weights on RGB, as OpenCV's BGR2YCrCb Y that the runtime feeds a luma model.
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` RGB to ``(N, 1, H, W)`` luma."""
    return (rgb * LUMA.to(rgb.dtype)).sum(1, keepdim=True)


def make_sr_dataset(images, crops: int, size: int, scale: int, seed, scales=(1.0, 0.7, 0.5)):
    """Low-resolution luma crops and their high-resolution sub-pixels.

    High-resolution 8-bit RGB crops (``size`` a multiple of ``scale``) are downscaled by antialiased
    bicubic (MATLAB ``imresize``, as the evaluation does) and rounded to 8 bits; returns the
    low-resolution luma ``(N, 1, size/scale, size/scale)`` and the high-resolution luma as
    ``scale**2`` phases on the low-resolution grid ``(N, scale**2, size/scale, size/scale)``.
    """
    if size % scale:
        raise ValueError(f"crop size must be a multiple of the scale, got {size} for x{scale}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    hr = quantize(random_crops(images, crops, size, rng, scales=scales))
    hr8 = (hr.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    lr = np.stack([downscale(im, scale) for im in hr8]).astype(np.float32) / 255
    lr = torch.from_numpy(lr).permute(0, 3, 1, 2)
    return luma(lr), F.pixel_unshuffle(luma(hr), scale)


def train_pafu_linear_sr(model, images, *, crops=2000, size=96, seed=0, scales=(1.0, 0.7, 0.5), **kw) -> list[dict]:
    """Train a linear PAFU upscaler on ``crops`` random crops of ``images``; pixels whose kernel
    window leaves the crop are not fitted (see :func:`~export.train.linear.train_linear_pafu`)."""
    lr, targets = make_sr_dataset(images, crops, size, model.scale, seed, scales)
    return train_linear_pafu(model, lr, targets, seed=seed, border=model.pafu.max_kernel_size // 2, **kw)


@torch.no_grad()
def solve_conv(conv: torch.nn.Conv2d, x: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-5) -> None:
    """Set a bias-free 'same' convolution to the least-squares map from ``x`` to ``targets``,
    fitted on the pixels whose window stays inside the crop."""
    k = conv.kernel_size[0]
    feats = inner(patch_features(x, k).view(len(x), *x.shape[2:], -1).permute(0, 3, 1, 2), k // 2)
    y = inner(targets, k // 2)
    eq = NormalEquations(1, feats.shape[1], y.shape[1])
    eq.add(feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1]), y.permute(0, 2, 3, 1).reshape(-1, y.shape[1]),
           torch.zeros(feats.shape[0] * feats.shape[2] * feats.shape[3], dtype=torch.long))
    conv.weight.copy_(eq.solve(ridge)[0].view_as(conv.weight))


def sr_batches(images, batch: int, size: int, scale: int, pad: int, scales=(1.0, 0.7, 0.5)):
    """A ``batch_fn`` for :func:`~export.train.network.train_network`: low-resolution luma crops mirrored
    outwards by ``pad`` pixels (as the runtime extends images), their high-resolution luma, and the
    output margin ``pad * scale``."""
    def make(rng):
        lr, targets = make_sr_dataset(images, batch, size, scale, rng, scales)
        return F.pad(lr, (pad,) * 4, mode="reflect"), F.pixel_shuffle(targets, scale), pad * scale
    return make
