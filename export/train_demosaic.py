"""Training of the linear PAFU demosaicker: least-squares kernels and a learned selector, alternately.

Given a fixed per-pixel selection the best kernels are a closed-form least-squares solve; given
the kernels, the selector is trained to minimise the expected error of its (soft) choice. The
kernels start from a structure-tensor hash assignment, so a few alternations reach a good model
on a CPU in minutes.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import mosaic_rggb, quantize, random_crops
from .lsq import NormalEquations, kernel_support, patch_features
from .nets.demosaic import MISSING, PafuLinearDemosaic, missing_targets, pack_mosaic
from .structure_hash import structure_hash

log = logging.getLogger("imgadapt.train")


def make_dataset(images, crops: int, size: int, seed: int, scales=(1.0, 0.7, 0.5, 0.35, 0.25)):
    """Packed 8-bit RGGB mosaics and their missing values from random crops."""
    rng = np.random.default_rng(seed)
    rgb = quantize(random_crops(images, crops, size, rng, scales=scales))
    packed = pack_mosaic(mosaic_rggb(rgb))
    return packed, missing_targets(rgb)


def solve_kernels(model: PafuLinearDemosaic, packed, targets, labels, ridge=1e-5, batch=64, weights=None):
    """Least-squares kernels for a fixed selection; ``weights`` (one per crop) weight the crops' errors."""
    if weights is not None:
        root = weights.sqrt().view(-1, 1, 1, 1)
        packed, targets = packed * root, targets * root
    pafu = model.pafu
    k, n = pafu.max_kernel_size, pafu.num_kernels
    eq = NormalEquations(n, 4 * k * k, len(MISSING))
    for i in range(0, len(packed), batch):
        eq.add(patch_features(packed[i:i + batch], k),
               targets[i:i + batch].permute(0, 2, 3, 1).reshape(-1, len(MISSING)),
               labels[i:i + batch].reshape(-1))
    weight = eq.solve(ridge, kernel_support(pafu.kernel_sizes, 4, k))
    pafu.set_kernels(weight.view(n, len(MISSING), 4, k, k))
    return eq.count


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


def crop_weights(chosen_errors: torch.Tensor, floor: float) -> torch.Tensor:
    """Per-crop weights ``1 / (mse + floor)``, mean 1, from the errors ``(N, h, w)`` of the chosen kernels.

    Reweighting by the inverse of the current error makes the next solve minimise, to first order,
    the sum of per-crop log errors (the mean PSNR the model is judged by) instead of a plain sum that
    the hardest, most aliased crops dominate; ``floor`` (an MSE) keeps near-perfect crops from
    taking over.
    """
    mse = chosen_errors.mean((1, 2)) / len(MISSING)
    w = 1.0 / (mse + floor)
    return w / w.mean()


@torch.no_grad()
def kernel_errors(model: PafuLinearDemosaic, packed, targets, batch=64) -> torch.Tensor:
    """Squared error of every kernel at every packed pixel, ``(N, n, h, w)``."""
    pafu = model.pafu
    n, k = pafu.num_kernels, pafu.max_kernel_size
    w = pafu.kernels().reshape(n * len(MISSING), 4, k, k)
    out = []
    for i in range(0, len(packed), batch):
        y = F.conv2d(packed[i:i + batch], w, padding=k // 2).view(-1, n, len(MISSING), *packed.shape[2:])
        out.append(((y - targets[i:i + batch, None]) ** 2).sum(2))
    return torch.cat(out)


def train_selector(model: PafuLinearDemosaic, packed, errors, epochs: int, lr: float, seed: int,
                   batch: int = 32, imitate: torch.Tensor | None = None) -> float:
    """Train the selector on fixed kernels.

    With ``imitate`` (labels ``(N, h, w)``) the selector learns to reproduce them (cross-entropy);
    otherwise it minimises its expected kernel error ``sum_k softmax(logits)_k * E_k`` (the
    Gumbel-softmax objective without the noise), which keeps hard choices near the per-pixel best.
    """
    selector = model.pafu.selector
    opt = torch.optim.Adam(selector.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-len(packed) // batch))
    gen = torch.Generator().manual_seed(seed)
    scale = 1.0 / errors.mean().clamp(min=1e-12)
    for _ in range(epochs):
        order = torch.randperm(len(packed), generator=gen)
        total = 0.0
        for i in range(0, len(packed), batch):
            idx = order[i:i + batch]
            logits = selector(model.guide(packed[idx]))
            if imitate is not None:
                loss = F.cross_entropy(logits, imitate[idx])
            else:
                loss = (torch.softmax(logits, dim=1) * errors[idx]).sum(1).mean() * scale
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
    return total / len(packed)


def _prune_and_refit(model: PafuLinearDemosaic, packed, targets, weights, keep_mask, start) -> dict:
    keep = keep_mask.nonzero().squeeze(1).tolist()
    model.pafu = model.pafu.prune(keep)
    labels = selector_labels(model, packed)
    counts = solve_kernels(model, packed, targets, labels, weights=weights)
    chosen = kernel_errors(model, packed, targets).gather(1, labels[:, None]).squeeze(1)
    return {"round": "pruned", "seconds": round(time.perf_counter() - start, 1), "kept_kernels": keep,
            **_fit(chosen), "kernel_use": counts.tolist()}


def _fit(chosen_errors: torch.Tensor) -> dict:
    """Training MSE and mean per-crop PSNR from the chosen kernels' errors ``(N, h, w)``."""
    per_crop = chosen_errors.mean((1, 2)) / len(MISSING)
    return {"train_mse": float(per_crop.mean()), "train_psnr": float((-10 * torch.log10(per_crop)).mean())}


@torch.no_grad()
def selector_labels(model: PafuLinearDemosaic, packed, batch=64) -> torch.Tensor:
    return torch.cat([model.pafu.logits(model.guide(packed[i:i + batch])).argmax(1) for i in range(0, len(packed), batch)])


def train_pafu_linear(model: PafuLinearDemosaic, images, *, crops=2000, size=96, rounds=4,
                      selector_epochs=4, lr=3e-3, seed=0, scales=(1.0, 0.7, 0.5, 0.35, 0.25),
                      balance: float | None = 5e-6, prune_below: float | None = 1e-4,
                      evaluate=None) -> list[dict]:
    """Alternate least-squares kernel solves and selector training; returns a log per round.

    With ``balance`` (an MSE floor), every round after the first weights the crops by
    :func:`crop_weights` in both the kernel solve and the selector's objective. Kernels the final
    selector picks for less than ``prune_below`` of the training pixels then leave the group (and
    the exported graph, whose cost grows with the group); the pixels they served go to the
    selector's next choice and the kept kernels are solved once more.
    """
    torch.manual_seed(seed)
    start = time.perf_counter()
    packed, targets = make_dataset(images, crops, size, seed, scales)
    labels = structure_hash(packed, model.pafu.num_kernels)
    history, weights = [], None
    for rnd in range(rounds + 1):
        counts = solve_kernels(model, packed, targets, labels, weights=weights)
        errors = kernel_errors(model, packed, targets)
        chosen = errors.gather(1, labels[:, None]).squeeze(1)
        entry = {"round": rnd, "seconds": round(time.perf_counter() - start, 1), **_fit(chosen),
                 "kernel_use": counts.tolist()}
        if evaluate is not None:
            entry["val"] = evaluate(model)
        log.info("round %s: %s", rnd, entry)
        history.append(entry)
        if rnd == rounds:
            share = counts.double() / counts.sum()
            if prune_below is not None and (share < prune_below).any():
                history.append(_prune_and_refit(model, packed, targets, weights, share >= prune_below, start))
                log.info("pruned to %d kernels: %s", model.pafu.num_kernels, history[-1])
            break
        if balance is not None:
            weights = crop_weights(chosen, balance)
            errors = errors * weights.view(-1, 1, 1, 1)
        if rnd == 0:
            train_selector(model, packed, errors, selector_epochs, lr, seed, imitate=labels)
        train_selector(model, packed, errors, selector_epochs, lr, seed + rnd + 1)
        labels = selector_labels(model, packed)
    return history
