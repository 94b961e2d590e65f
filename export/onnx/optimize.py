"""Inference optimisations of trained networks, each measured on calibration data."""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..layers.envelope import DisentangledConv


def shrink_envelopes(model: torch.nn.Module, radius: int = 1) -> tuple[torch.nn.Module, list[dict]]:
    """A copy of ``model`` whose Gaussian envelopes have ``2 * radius + 1`` taps (renormalised at
    the learned sigma), and per layer the share of the trained envelope's mass kept."""
    small = copy.deepcopy(model)
    report = []
    for name, module in list(small.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, DisentangledConv) and child.radius > radius:
                kept = child.mass_kept(radius).detach()
                setattr(module, child_name, child.shrink(radius))
                report.append({"layer": f"{name}.{child_name}".lstrip("."), "taps": f"{2 * child.radius + 1} -> "
                               f"{2 * radius + 1}", "mass_kept_min": round(float(kept.min()), 5),
                               "mass_kept_mean": round(float(kept.mean()), 5)})
    return small.eval(), report


@torch.no_grad()
def mean_psnr(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, margin: int) -> float:
    """Mean over samples of the PSNR of ``model(inputs)`` (8-bit rounded, clipped) against
    ``targets``, ``margin`` output pixels in from the border."""
    model.eval()
    out = torch.cat([model(inputs[i:i + 8]) for i in range(0, len(inputs), 8)])
    h, w = targets.shape[-2:]
    out = (out[..., margin:margin + h, margin:margin + w].clamp(0, 1) * 255).round() / 255
    mse = (out - targets).pow(2).mean((1, 2, 3)).clamp(min=1e-12)
    return float((-10 * torch.log10(mse)).mean())


def shrink_if_harmless(model, inputs, targets, margin: int, radius: int = 1, tolerance_db: float = 0.05):
    """Shrink the envelopes when the calibration PSNR drops by at most ``tolerance_db``.

    Returns the model to export (shrunk or not) and a report for the model card."""
    small, layers = shrink_envelopes(model, radius)
    if not layers:
        return model, None
    before, after = mean_psnr(model, inputs, targets, margin), mean_psnr(small, inputs, targets, margin)
    applied = before - after <= tolerance_db
    report = {"optimization": "envelope shrinking", "applied": applied, "tolerance_db": tolerance_db,
              "calibration_psnr_db": {"before": round(before, 4), "after": round(after, 4)},
              "change_db": round(after - before, 4), "layers": layers,
              "calibration": f"{len(inputs)} training crops"}
    return (small if applied else model), report


def calibration_crops(make_batch, seed: int, batches: int = 4):
    """Fixed calibration data from a trainer's batch function ``make_batch(rng)``."""
    rng = np.random.default_rng([seed, 2 ** 20])
    parts = [make_batch(rng) for _ in range(batches)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), parts[0][2]
