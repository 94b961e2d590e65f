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

    def solve(self, ridge: float = 1e-4, support: torch.Tensor | None = None,
              constraints: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Ridge solution per class, ``(classes, outputs, features)``.

        Args:
            ridge: Tikhonov weight relative to the mean diagonal of XᵀX.
            support: optional ``(classes, features)`` boolean mask of the features a class may
                use (smaller kernels); the other weights are zero.
            constraints: optional ``(C, D)``, ``C`` ``(m, features)`` and ``D`` ``(m, outputs)``:
                every class's weights ``w`` (features x outputs) satisfy ``C w = D`` exactly
                (equality-constrained least squares, solved through its KKT system).

        Classes that saw no data get the solution over all data.
        """
        classes, nf, _ = self.xtx.shape
        support = torch.ones(classes, nf, dtype=torch.bool) if support is None else support
        all_xtx, all_xty = self.xtx.sum(0), self.xty.sum(0)
        sol = torch.zeros(classes, nf, self.xty.shape[2], dtype=torch.float64)
        for cls in range(classes):
            idx = support[cls].nonzero().squeeze(1)
            xtx, xty = (self.xtx[cls], self.xty[cls]) if self.count[cls] else (all_xtx, all_xty)
            a = xtx[idx][:, idx]
            a = a + ridge * a.diagonal().mean().clamp(min=1e-12) * torch.eye(len(idx), dtype=torch.float64)
            w = torch.linalg.solve(a, xty[idx])
            if constraints is not None:
                c, d = constraints[0][:, idx].double(), constraints[1].double()
                ainv_ct = torch.linalg.solve(a, c.T)                          # (features, m)
                lam = torch.linalg.solve(c @ ainv_ct, c @ w - d)               # (m, outputs)
                w = w - ainv_ct @ lam
            sol[cls, idx] = w
        return sol.transpose(1, 2).float()


def kernel_support(kernel_sizes, channels: int, size: int) -> torch.Tensor:
    """``(n, channels*size*size)`` mask of the taps each centred kernel of ``kernel_sizes`` uses."""
    masks = []
    for k in kernel_sizes:
        m = torch.zeros(size, size, dtype=torch.bool)
        lo = size // 2 - k // 2
        m[lo:lo + k, lo:lo + k] = True
        masks.append(m.flatten().repeat(channels))
    return torch.stack(masks)
