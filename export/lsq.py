"""Closed-form least squares for linear kernel groups under a fixed per-pixel selection."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def patch_features(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``(N, C, H, W)`` to ``(N*H*W, C*k*k)``: zero-padded k×k neighbourhoods, pixel-major."""
    n, c, h, w = x.shape
    cols = F.unfold(x, kernel_size, padding=kernel_size // 2)  # (N, C*k*k, H*W)
    return cols.permute(0, 2, 1).reshape(n * h * w, c * kernel_size * kernel_size)


class NormalEquations:
    """Accumulates XᵀX and XᵀY per class, so the data can be streamed in batches."""

    def __init__(self, classes: int, features: int, outputs: int):
        self.xtx = torch.zeros(classes, features, features, dtype=torch.float64)
        self.xty = torch.zeros(classes, features, outputs, dtype=torch.float64)
        self.count = torch.zeros(classes, dtype=torch.long)

    def add(self, features: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor) -> None:
        order = torch.argsort(labels)
        labels, features, targets = labels[order], features[order].double(), targets[order].double()
        counts = torch.bincount(labels, minlength=self.count.numel())
        start = 0
        for cls, n in enumerate(counts.tolist()):
            if n:
                xf, yf = features[start:start + n], targets[start:start + n]
                self.xtx[cls] += xf.T @ xf
                self.xty[cls] += xf.T @ yf
                start += n
        self.count += counts

    def solve(self, ridge: float = 1e-4, fallback: torch.Tensor | None = None) -> torch.Tensor:
        """``(classes, outputs, features)`` weights; classes without data take ``fallback``'s row
        (or the solve over all data)."""
        eye = torch.eye(self.xtx.shape[1], dtype=torch.float64)
        scale = self.xtx.diagonal(dim1=1, dim2=2).mean(dim=1).clamp(min=1e-12)
        sol = torch.linalg.solve(self.xtx + ridge * scale[:, None, None] * eye, self.xty)
        total = torch.linalg.solve(self.xtx.sum(0) + ridge * scale.mean() * eye, self.xty.sum(0))
        empty = self.count == 0
        if empty.any():
            sol[empty] = total if fallback is None else fallback[empty].double().transpose(1, 2)
        return sol.transpose(1, 2).float()
