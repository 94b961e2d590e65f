"""Training data of the demosaicking models, and the linear PAFU demosaicker's training."""
from __future__ import annotations

import numpy as np
import torch

from .data import mosaic_rggb, quantize, random_crops
from .lsq import NormalEquations, patch_features
from ..nets.demosaic import KNOWN, MISSING, PafuLinearDemosaic, missing_targets, pack_mosaic
from .linear import train_linear_pafu


def make_dataset(images, crops: int, size: int, seed: int, scales=(1.0, 0.7, 0.5, 0.35, 0.25)):
    """Packed 8-bit RGGB mosaics and their missing values from random crops."""
    rng = np.random.default_rng(seed)
    rgb = quantize(random_crops(images, crops, size, rng, scales=scales))
    packed = pack_mosaic(mosaic_rggb(rgb))
    return packed, missing_targets(rgb)


@torch.no_grad()
def solve_plain_conv(conv: torch.nn.Conv2d, images, crops: int = 2000, size: int = 96, seed: int = 0,
                     ridge: float = 1e-5) -> None:
    """The least-squares linear demosaicker as one plain convolution (packed mosaic -> 8 missing
    values): the starting point of the plain ablation, matching the PAFU model's start."""
    packed, targets = make_dataset(images, crops, size, seed)
    k = conv.kernel_size[0]
    eq = NormalEquations(1, 4 * k * k, len(MISSING))
    for i in range(0, len(packed), 64):
        feats = patch_features(packed[i:i + 64], k)
        eq.add(feats, targets[i:i + 64].permute(0, 2, 3, 1).reshape(-1, len(MISSING)),
               torch.zeros(len(feats), dtype=torch.long))
    conv.weight.copy_(eq.solve(ridge).view(len(MISSING), 4, k, k))


def flat_colour_constraints(kernel_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(C, D)`` for :meth:`~export.train.lsq.NormalEquations.solve`: each kernel reproduces a flat field
    of any colour exactly. The weights a missing value of colour c puts on the samples of colour c
    sum to 1, those on the other colours to 0, so flat regions (clipped highlights among them)
    come out unchanged and neutral whatever kernel the selector picks there."""
    taps = kernel_size * kernel_size
    c = torch.zeros(3, 4 * taps, dtype=torch.float64)
    for channel, (colour, _) in enumerate(KNOWN):  # packed channel i holds KNOWN[i]
        c[colour, channel * taps:(channel + 1) * taps] = 1.0
    d = torch.zeros(3, len(MISSING), dtype=torch.float64)
    for out, (colour, _) in enumerate(MISSING):
        d[colour, out] = 1.0
    return c, d


def train_pafu_linear(model: PafuLinearDemosaic, images, *, crops=2000, size=96, seed=0,
                      scales=(1.0, 0.7, 0.5, 0.35, 0.25), **kw) -> list[dict]:
    """Train a linear PAFU demosaicker on ``crops`` random crops of ``images`` (see
    :func:`~export.train.linear.train_linear_pafu` for the alternation and its options), every
    kernel bound to reproduce flat colour fields (:func:`flat_colour_constraints`)."""
    packed, targets = make_dataset(images, crops, size, seed, scales)
    return train_linear_pafu(model, packed, targets, seed=seed,
                             constraints=flat_colour_constraints(model.pafu.max_kernel_size), **kw)
