"""Training of linear PAFU models: least-squares kernels and a learned selector, alternately.

Given a fixed per-pixel selection the best kernels are a closed-form least-squares solve; given
the kernels, the selector is trained to minimise the expected error of its (soft) choice. The
kernels start from a structure-tensor hash assignment, so a few alternations reach a good model
on a CPU in minutes.

A model here is anything with a ``pafu`` (:class:`~export.layers.pafu.PAFU`) and a ``guide(x)``
giving the selector's input; the data are inputs ``(N, C, h, w)`` and targets ``(N, T, h, w)``
on the same grid (the packed mosaic and its missing values, or a low-resolution image and its
``scale**2`` sub-pixel phases). With ``border``, pixels that close to a crop's edge, whose
neighbourhoods run into the zero padding, are left out of the solves and of the selector's
objective.
"""
from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F

from .lsq import NormalEquations, kernel_support, patch_features
from .structure_hash import structure_hash

log = logging.getLogger("imgadapt.train")


def inner(x: torch.Tensor, border: int) -> torch.Tensor:
    """``x`` without ``border`` pixels along each side of its last two dimensions."""
    return x[..., border:x.shape[-2] - border, border:x.shape[-1] - border] if border else x


def solve_kernels(model, packed, targets, labels, ridge=1e-5, batch=64, weights=None, border=0, constraints=None):
    """Least-squares kernels for a fixed selection (``labels`` on the inner grid); ``weights`` (one
    per crop) weight the crops' errors; ``constraints`` as for :meth:`NormalEquations.solve`."""
    if weights is not None:
        root = weights.sqrt().view(-1, 1, 1, 1)
        packed, targets = packed * root, targets * root
    pafu = model.pafu
    k, n = pafu.max_kernel_size, pafu.num_kernels
    c, t = packed.shape[1], targets.shape[1]
    eq = NormalEquations(n, c * k * k, t)
    for i in range(0, len(packed), batch):
        x = packed[i:i + batch]
        feats = inner(patch_features(x, k).view(len(x), *x.shape[2:], -1).permute(0, 3, 1, 2), border)
        eq.add(feats.permute(0, 2, 3, 1).reshape(-1, c * k * k),
               inner(targets[i:i + batch], border).permute(0, 2, 3, 1).reshape(-1, t),
               labels[i:i + batch].reshape(-1))
    weight = eq.solve(ridge, kernel_support(pafu.kernel_sizes, c, k), constraints)
    pafu.set_kernels(weight.view(n, t, c, k, k))
    return eq.count


def crop_weights(chosen_errors: torch.Tensor, floor: float, outputs: int) -> torch.Tensor:
    """Per-crop weights ``1 / (mse + floor)``, mean 1, from the errors ``(N, h, w)`` of the chosen
    kernels summed over their ``outputs`` values.

    Reweighting by the inverse of the current error makes the next solve minimise, to first order,
    the sum of per-crop log errors (the mean PSNR the model is judged by) instead of a plain sum that
    the hardest, most aliased crops dominate; ``floor`` (an MSE) keeps near-perfect crops from
    taking over.
    """
    mse = chosen_errors.mean((1, 2)) / outputs
    w = 1.0 / (mse + floor)
    return w / w.mean()


@torch.no_grad()
def kernel_errors(model, packed, targets, batch=64, border=0) -> torch.Tensor:
    """Squared error of every kernel at every inner pixel, summed over the outputs, ``(N, n, h, w)``."""
    pafu = model.pafu
    n, k, t = pafu.num_kernels, pafu.max_kernel_size, targets.shape[1]
    w = pafu.kernels().reshape(n * t, packed.shape[1], k, k)
    out = []
    for i in range(0, len(packed), batch):
        y = F.conv2d(packed[i:i + batch], w, padding=k // 2).view(-1, n, t, *packed.shape[2:])
        out.append(inner(((y - targets[i:i + batch, None]) ** 2).sum(2), border))
    return torch.cat(out)


def train_selector(model, packed, errors, epochs: int, lr: float, seed: int,
                   batch: int = 32, imitate: torch.Tensor | None = None, border: int = 0) -> float:
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
            logits = inner(selector(model.guide(packed[idx])), border)
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


def _prune_and_refit(model, packed, targets, weights, keep_mask, start, border, constraints=None) -> dict:
    keep = keep_mask.nonzero().squeeze(1).tolist()
    model.pafu = model.pafu.prune(keep)
    labels = selector_labels(model, packed, border=border)
    counts = solve_kernels(model, packed, targets, labels, weights=weights, border=border, constraints=constraints)
    chosen = kernel_errors(model, packed, targets, border=border).gather(1, labels[:, None]).squeeze(1)
    return {"round": "pruned", "seconds": round(time.perf_counter() - start, 1), "kept_kernels": keep,
            **_fit(chosen, targets.shape[1]), "kernel_use": counts.tolist()}


def _fit(chosen_errors: torch.Tensor, outputs: int) -> dict:
    """Training MSE and mean per-crop PSNR from the chosen kernels' errors ``(N, h, w)``; a crop
    reproduced exactly (a flat or clipped region) counts as 100 dB, not as an infinite mean."""
    per_crop = chosen_errors.mean((1, 2)) / outputs
    psnr = -10 * torch.log10(per_crop.clamp_min(1e-10))
    return {"train_mse": float(per_crop.mean()), "train_psnr": float(psnr.mean())}


@torch.no_grad()
def selector_labels(model, packed, batch=64, border=0) -> torch.Tensor:
    return torch.cat([inner(model.pafu.logits(model.guide(packed[i:i + batch])).argmax(1), border)
                      for i in range(0, len(packed), batch)])


def train_linear_pafu(model, packed, targets, *, rounds=4, selector_epochs=8, lr=3e-3, seed=0,
                      balance: float | None = 5e-6, prune_below: float | None = 1e-4,
                      border: int = 0, evaluate=None, constraints=None) -> list[dict]:
    """Alternate least-squares kernel solves and selector training; returns a log per round.

    With ``balance`` (an MSE floor), every round after the first weights the crops by
    :func:`crop_weights` in both the kernel solve and the selector's objective. Kernels the final
    selector picks for less than ``prune_below`` of the training pixels then leave the group (and
    the exported graph, whose cost grows with the group); the pixels they served go to the
    selector's next choice and the kept kernels are solved once more. ``constraints`` bind every
    solve (:meth:`~export.train.lsq.NormalEquations.solve`).
    """
    torch.manual_seed(seed)
    start = time.perf_counter()
    labels = inner(structure_hash(packed, model.pafu.num_kernels), border)
    history, weights = [], None
    for rnd in range(rounds + 1):
        counts = solve_kernels(model, packed, targets, labels, weights=weights, border=border,
                               constraints=constraints)
        errors = kernel_errors(model, packed, targets, border=border)
        chosen = errors.gather(1, labels[:, None]).squeeze(1)
        entry = {"round": rnd, "seconds": round(time.perf_counter() - start, 1), **_fit(chosen, targets.shape[1]),
                 "kernel_use": counts.tolist()}
        if evaluate is not None:
            entry["val"] = evaluate(model)
        log.info("round %s: %s", rnd, entry)
        history.append(entry)
        if rnd == rounds:
            share = counts.double() / counts.sum()
            if prune_below is not None and (share < prune_below).any():
                history.append(_prune_and_refit(model, packed, targets, weights, share >= prune_below, start,
                                                border, constraints))
                log.info("pruned to %d kernels: %s", model.pafu.num_kernels, history[-1])
            break
        if balance is not None:
            weights = crop_weights(chosen, balance, targets.shape[1])
            errors = errors * weights.view(-1, 1, 1, 1)
        if rnd == 0:
            train_selector(model, packed, errors, selector_epochs, lr, seed, imitate=labels, border=border)
        train_selector(model, packed, errors, selector_epochs, lr, seed + rnd + 1, border=border)
        labels = selector_labels(model, packed, border=border)
    return history
