"""Co-occurrence layer (CoL): an edge-aware filter whose weights depend on binned pixel values.

The output at site ``p`` is (Co-Occurrence Neural Network, eq. 7)::

    J_p = sum_{q in N_p} w_{p-q} * L([I_p], [I_q]) * I_q

where ``w`` is a spatial filter, ``[.]`` maps a value to one of ``k`` bins and ``L`` is a learned
``k x k`` co-occurrence matrix. Neighbours whose values fall into bins that ``L`` says do not
"co-occur" are down-weighted, so the filter adapts to the content at every pixel.

Evaluation loops over the bins, as in the paper: with one-hot masks ``M_j = [bin(I) == j]``::

    J = sum_i M_i * sum_j L_ij * (w conv (M_j * I))

i.e. one ordinary convolution of the masked input per bin and a per-pixel combination, all of
which export to plain ONNX operators with dynamic height and width.

Binning is a fixed per-pixel function of the value: ``k`` uniform bins over a calibrated range
``[lo, hi)`` per channel, values outside the range fall into the first or last bin. No statistic
of the current tensor is used, so an output pixel depends only on the input pixels in its
``kernel_size x kernel_size`` window (and, for 3-D support, the neighbouring channels) — never on
the other images in the batch nor on where a tile was cut.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from ._checks import check_int as _check_int

__all__ = ["CoL", "col", "bin_index", "robust_range"]


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range: expected a pair (lo, hi) of numbers, got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"value_range: expected finite lo < hi, got ({lo}, {hi})")
    return lo, hi


def _channel_view(t: torch.Tensor) -> torch.Tensor:
    """``(C,)`` -> ``(1, C, 1, 1)`` so that it broadcasts over an ``(N, C, H, W)`` tensor."""
    return t.reshape(1, -1, 1, 1)


def bin_index(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Bin of every value: ``floor((x - lo) * bins / (hi - lo))`` clamped to ``[0, bins - 1]``.

    A pure per-pixel function of the value (no statistic of ``x`` is used). The result is
    returned as a float tensor holding whole numbers and carries no gradient.

    Args:
        x: ``(N, C, H, W)`` input.
        lo: ``(C,)`` lower end of the binned range per channel.
        hi: ``(C,)`` upper end of the binned range per channel (``hi > lo``).
        bins: number of bins ``k``.

    Returns:
        Bin indices ``0 .. bins - 1`` with the shape and dtype of ``x``.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 0.3, 0.5, 0.99, 1.0, 7.0]).reshape(1, 1, 1, 7)
        >>> bin_index(x, torch.tensor([0.0]), torch.tensor([1.0]), 4).flatten().tolist()
        [0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    """
    x = x.detach()
    scale = bins / (hi - lo)
    idx = torch.floor((x - _channel_view(lo)) * _channel_view(scale))
    return torch.clamp(idx, 0, bins - 1)


def col(x: torch.Tensor, weight: torch.Tensor, cooc: torch.Tensor, lo: torch.Tensor,
        hi: torch.Tensor) -> torch.Tensor:
    """Co-occurrence filtering ``J_p = sum_q w_{p-q} L([I_p], [I_q]) I_q`` by looping over bins.

    With ``M_j = [bin(x) == j]`` this computes ``sum_i M_i * sum_j L_ij * (w conv (M_j * x))``:
    ``k`` convolutions with zero padding (``padding = K // 2``), then a per-pixel combination.
    The bin of the output site ``p`` is taken in the output channel ``c``, the bin of a
    neighbour ``q`` in the neighbour's own channel. Gradients reach ``x`` through the ``I_q``
    factor only; the bin masks are piecewise constant.

    Args:
        x: ``(N, C, H, W)`` input.
        weight: spatial filter ``w``; ``(C, 1, K, K)`` filters every channel within itself
            (2-D support), ``(C, C, K, K)`` lets output channel ``c`` gather from every input
            channel (3-D support). ``K`` must be odd.
        cooc: ``(k, k)`` co-occurrence matrix ``L``; row = bin of ``I_p``, column = bin of
            ``I_q``; shared by all channels.
        lo: ``(C,)`` lower end of the binned range per channel.
        hi: ``(C,)`` upper end of the binned range per channel (``hi > lo``).

    Returns:
        The filtered tensor, same shape as ``x``.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``

    Example:
        >>> x = torch.rand(1, 2, 6, 6)
        >>> w = torch.full((2, 1, 3, 3), 1 / 9)
        >>> y = col(x, w, torch.ones(4, 4), torch.zeros(2), torch.ones(2))
        >>> torch.allclose(y, torch.nn.functional.conv2d(x, w, padding=1, groups=2), atol=1e-6)
        True
    """
    bins = cooc.shape[0]
    channels = weight.shape[0]
    ksize = weight.shape[-1]
    pad = ksize // 2
    idx = bin_index(x, lo, hi, bins)
    bin_ids = torch.arange(bins, dtype=x.dtype, device=x.device).reshape(1, bins, 1, 1, 1)
    masks = (idx.unsqueeze(1) == bin_ids).to(x.dtype)                    # (N, k, C, H, W)
    # The bins ride along the batch axis: one ordinary convolution of every masked input.
    masked = (masks * x.unsqueeze(1)).reshape(-1, channels, x.shape[2], x.shape[3])  # (N*k, C, H, W)
    # (C, 1, K, K): 2-D support, each channel filtered by its own w; (C, C, K, K): 3-D support.
    groups = channels if weight.shape[1] == 1 else 1
    per_bin = F.conv2d(masked, weight, padding=pad, groups=groups)
    per_bin = per_bin.reshape(x.shape[0], bins, -1)                       # (N, k, C*H*W)
    # Row of L selected by the bin of the output site: A_j(p) = sum_i M_i(p) L_ij.
    rows = torch.matmul(cooc.t(), masks.flatten(2))                        # (N, k, C*H*W)
    out = (rows * per_bin).sum(dim=1)                                      # (N, C*H*W)
    return out.reshape(x.shape)


def robust_range(x: torch.Tensor, low: float = 0.5, high: float = 99.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel percentiles ``(lo, hi)`` of a calibration tensor (linear interpolation).

    A channel whose percentiles coincide gets ``hi = lo + max(1e-6, 1e-6 * |lo|)`` so the range
    is never empty.

    Args:
        x: ``(N, C, H, W)`` calibration data; must be finite and non-empty.
        low: lower percentile in ``[0, 100)``.
        high: upper percentile in ``(low, 100]``.

    Returns:
        ``lo`` and ``hi``, each of shape ``(C,)`` and the dtype of ``x``.

    Shape:
        ``(N, C, H, W) -> (C,), (C,)``

    Example:
        >>> x = torch.arange(101.0).reshape(1, 1, 1, 101)
        >>> [t.tolist() for t in robust_range(x, 1.0, 99.0)]
        [[1.0], [99.0]]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"calibration data: expected a floating-point torch.Tensor, got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if x.dim() != 4 or x.numel() == 0:
        raise ValueError(f"calibration data: expected a non-empty (N, C, H, W) tensor, "
                         f"got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("calibration data: expected finite values, got NaN or inf")
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"percentiles: expected 0 <= low < high <= 100, got low={low}, high={high}")
    values = x.detach().transpose(0, 1).reshape(x.shape[1], -1).sort(dim=1).values
    n = values.shape[1]

    def percentile(pct: float) -> torch.Tensor:
        pos = pct / 100.0 * (n - 1)
        below = int(math.floor(pos))
        above = min(below + 1, n - 1)
        frac = pos - below
        return values[:, below] * (1.0 - frac) + values[:, above] * frac

    lo, hi = percentile(low), percentile(high)
    hi = torch.maximum(hi, lo + torch.clamp(lo.abs() * 1e-6, min=1e-6))
    return lo, hi


class CoL(nn.Module):
    """Co-occurrence layer ``J_p = sum_q w_{p-q} L([I_p], [I_q]) I_q`` (paper eq. 7).

    Parameters: the spatial filter ``weight`` (``w``) and the co-occurrence matrix ``cooc``
    (``L``, ``bins x bins``, one per layer and shared by all channels, as in the paper).
    Buffers: ``lo`` and ``hi`` (``(C,)``), the per-channel range split into ``bins`` uniform
    bins; values outside it fall into the first or last bin.

    Support of ``w`` (``depth``):

    - ``depth == 1``: 2-D, ``(C, 1, K, K)``; every channel is filtered within itself.
    - ``depth == channels`` (``> 1``): 3-D with full channel mixing, ``(C, C, K, K)``; output
      channel ``c`` gathers from all input channels.
    - ``1 < depth < channels`` (odd): 3-D band, ``(C, depth, K, K)``; output channel ``c``
      gathers from input channels ``c - depth//2 .. c + depth//2`` (channels past the ends count
      as zero). ``weight[c, d]`` acts on input channel ``c + d - depth//2``.

    In every case ``L`` is indexed by the bin of the output-site value ``I_p`` in channel ``c``
    and the bin of the neighbour ``I_q`` in its own channel.

    Initialisation: ``L`` is all ones and ``w`` a normalised Gaussian (σ = K/4) on the centre
    channel only (zeros on the other channels of a 3-D support), so a fresh layer is exactly a
    depthwise Gaussian blur.

    Args:
        channels: number of input (= output) channels ``C``.
        bins: number of value bins ``k`` (>= 1).
        kernel_size: odd spatial size ``K`` of ``w``.
        value_range: initial ``(lo, hi)`` binned range for every channel; see :meth:`calibrate`.
        depth: channel extent of ``w`` (see above).
        learn_range: if True, the range is tracked from the training data: each forward in
            training mode moves ``lo``/``hi`` towards the batch's robust percentiles (the first
            batch sets them; afterwards an exponential moving average with ``range_momentum``),
            like BatchNorm's running statistics. The forward itself always bins with the range
            stored *before* the update, so an output never depends on the other images of its
            batch. In eval mode and in exported graphs the range is constant.

    Returns:
        The module; calling it returns a tensor of the input's shape.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``

    Example:
        >>> layer = CoL(3, bins=4, kernel_size=3)
        >>> layer(torch.rand(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
        >>> layer.receptive_field
        3
    """

    range_momentum = 0.1
    range_percentiles = (0.5, 99.5)

    def __init__(self, channels: int, bins: int = 8, kernel_size: int = 5,
                 value_range: Sequence[float] = (0.0, 1.0), depth: int = 1,
                 learn_range: bool = False):
        super().__init__()
        self.channels = _check_int("channels", channels, 1)
        self.bins = _check_int("bins", bins, 1)
        self.kernel_size = _check_int("kernel_size", kernel_size, 1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd int, got {kernel_size}")
        self.depth = _check_int("depth", depth, 1)
        if depth > channels:
            raise ValueError(f"depth: expected 1 <= depth <= channels ({channels}), got {depth}")
        if 1 < depth < channels and depth % 2 == 0:
            raise ValueError(f"depth: expected an odd depth below channels ({channels}) "
                             f"or depth == channels, got {depth}")
        lo, hi = _check_range(value_range)
        if not isinstance(learn_range, bool):
            raise TypeError(f"learn_range: expected a bool, got {type(learn_range).__name__}")
        self.learn_range = learn_range

        self.register_buffer("lo", torch.full((channels,), lo))
        self.register_buffer("hi", torch.full((channels,), hi))
        self.register_buffer("range_updates", torch.zeros((), dtype=torch.long))

        weight_depth = 1 if depth == 1 else depth
        self.weight = nn.Parameter(torch.zeros(channels, weight_depth, kernel_size, kernel_size))
        self.cooc = nn.Parameter(torch.ones(bins, bins))
        if 1 < depth < channels:
            # placement[c, d, c'] = 1 where weight[c, d] acts on input channel c'.
            placement = torch.zeros(channels, depth, channels)
            for c in range(channels):
                for d in range(depth):
                    src = c + d - depth // 2
                    if 0 <= src < channels:
                        placement[c, d, src] = 1.0
            self.register_buffer("placement", placement, persistent=False)
        else:
            self.placement = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``L`` to all ones and ``w`` to a normalised Gaussian on the centre channel."""
        k = self.kernel_size
        sigma = k / 4.0
        r = torch.arange(k, dtype=torch.float64) - k // 2
        g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
        g = (g / g.sum()).to(self.weight.dtype)
        with torch.no_grad():
            self.cooc.fill_(1.0)
            self.weight.zero_()
            for c in range(self.channels):
                if self.depth == 1:
                    centre = 0
                elif self.depth == self.channels:
                    centre = c
                else:
                    centre = self.depth // 2
                self.weight[c, centre] = g

    @property
    def receptive_field(self) -> int:
        """Side of the square input window that determines one output pixel (``kernel_size``).

        Tiles need a halo of at least ``receptive_field // 2`` pixels on every side.
        """
        return self.kernel_size

    def dense_weight(self) -> torch.Tensor:
        """The spatial filter as conv weights: ``(C, 1, K, K)`` for 2-D support, else ``(C, C, K, K)``."""
        if self.placement is None:
            return self.weight
        c, k = self.channels, self.kernel_size
        placement = self.placement.to(self.weight.dtype).transpose(1, 2)   # (C, C_in, depth)
        dense = torch.matmul(placement, self.weight.reshape(c, self.depth, k * k))
        return dense.reshape(c, c, k, k)

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, low: float | None = None, high: float | None = None) -> "CoL":
        """Set ``lo``/``hi`` per channel from robust percentiles of calibration data.

        Args:
            x: ``(N, C, H, W)`` calibration data (e.g. the layer's inputs over a few images).
            low: lower percentile (default ``range_percentiles[0]`` = 0.5).
            high: upper percentile (default ``range_percentiles[1]`` = 99.5).

        Returns:
            ``self``, for chaining.

        Shape:
            ``(N, C, H, W) -> ()``

        Example:
            >>> layer = CoL(1, bins=4).calibrate(torch.linspace(-2, 2, 1001).reshape(1, 1, 1, -1))
            >>> [round(v, 2) for v in (layer.lo.item(), layer.hi.item())]
            [-1.98, 1.98]
        """
        self._check_input(x)
        low = self.range_percentiles[0] if low is None else low
        high = self.range_percentiles[1] if high is None else high
        lo, hi = robust_range(x, low, high)
        self.lo.copy_(lo)
        self.hi.copy_(hi)
        self.range_updates.fill_(1)
        return self

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"CoL input: expected a floating-point torch.Tensor, got {got}")
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"CoL input: expected shape (N, {self.channels}, H, W), got {tuple(x.shape)}")

    @torch.no_grad()
    def _track_range(self, x: torch.Tensor) -> None:
        lo, hi = robust_range(x, *self.range_percentiles)
        if int(self.range_updates) == 0:
            self.lo.copy_(lo)
            self.hi.copy_(hi)
        else:
            m = self.range_momentum
            self.lo.mul_(1 - m).add_(m * lo)
            self.hi.copy_(torch.maximum(self.hi * (1 - m) + m * hi, self.lo + 1e-6))
        self.range_updates.add_(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x``; see the class docstring. ``(N, C, H, W) -> (N, C, H, W)``."""
        self._check_input(x)
        out = col(x, self.dense_weight(), self.cooc, self.lo, self.hi)
        if self.learn_range and self.training and not torch.jit.is_tracing():
            self._track_range(x)
        return out

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, bins={self.bins}, kernel_size={self.kernel_size}, "
                f"depth={self.depth}, learn_range={self.learn_range}")
