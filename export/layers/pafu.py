"""Pixel Adaptive Filtering Unit (PAFU): one kernel per pixel, picked from a learned group.

A PAFU holds a group of ``n`` kernels (possibly of different odd support sizes) and a compact
selection CNN. At every pixel the selector scores the ``n`` kernels and the best-scoring kernel
filters the neighbourhood of that pixel (paper eq. 2)::

    y_p = sum_q W[z_p, q - p] x_q

Training uses the straight-through Gumbel-softmax (hard one-hot forward, soft gradients); inference
uses a deterministic argmax. A decorrelation penalty (eq. 3) keeps the kernels of a group distinct.

Kernels follow the ``torch.nn.Conv2d`` convention (cross-correlation, offset ``q - p``), so a group
member can be dropped into a plain convolution unchanged; eq. 2 of the paper writes the same
operator with flipped kernels. Kernels smaller than the largest one are stored zero-padded to the
largest size; a fixed mask keeps that padding ring exactly zero.
"""
from __future__ import annotations

import copy
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from ._checks import check_int as _check_int

__all__ = [
    "PAFU",
    "filter_with_selection",
    "filter_with_index",
    "hard_onehot",
    "straight_through_gumbel",
    "pafu_decorrelation_loss",
]


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------

def _check_kernel_sizes(kernel_sizes) -> tuple:
    if isinstance(kernel_sizes, (int, np.integer)) or not isinstance(kernel_sizes, Sequence):
        raise TypeError("kernel_sizes must be a sequence of odd ints, one per kernel, "
                        f"e.g. (5,) * 8; got {type(kernel_sizes).__name__} {kernel_sizes!r}")
    if len(kernel_sizes) == 0:
        raise ValueError("kernel_sizes must name at least one kernel, got an empty group")
    sizes = tuple(_check_int("kernel_sizes[]", k, 1) for k in kernel_sizes)
    even = [k for k in sizes if k % 2 == 0]
    if even:
        raise ValueError("kernel_sizes must all be odd (centred 'same' filtering), "
                         f"got {list(sizes)}")
    return sizes


def _check_weight(weight: torch.Tensor) -> None:
    if weight.dim() != 5 or weight.shape[-1] != weight.shape[-2] or weight.shape[-1] % 2 == 0:
        raise ValueError("weight must have shape (n, out, in, K, K) with odd K, "
                         f"got {tuple(weight.shape)}")


def _check_image(name: str, x: torch.Tensor, channels: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------
# the math
# ---------------------------------------------------------------------------------------------

def filter_with_selection(x: torch.Tensor, weight: torch.Tensor, selection: torch.Tensor,
                          bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Spatially varying convolution with a given per-pixel kernel selection (eq. 2).

    All ``n * out`` kernels are applied by one convolution with 'same' zero padding; the result is
    weighted by the selection (broadcast over the output channels) and summed over the group
    (a grouped 1x1 convolution with unit weights). With
    a one-hot selection this is exactly ``y_p = sum_q W[z_p, q - p] x_q (+ b[z_p])``; a soft
    selection gives the corresponding mixture.

    Args:
        x: input image or feature map.
        weight: kernel group, ``nn.Conv2d`` layout per kernel, odd square size ``K``.
        selection: per-pixel weights of the kernels, normally one-hot along dim 1.
        bias: optional per-kernel bias.

    Returns:
        The filtered tensor, same height and width as ``x``.

    Shape:
        x ``(B, C_in, H, W)``, weight ``(n, C_out, C_in, K, K)``, selection ``(B, n, H, W)``,
        bias ``(n, C_out)`` -> ``(B, C_out, H, W)``

    Example:
        >>> x = torch.randn(1, 2, 6, 6)
        >>> w = torch.randn(3, 4, 2, 5, 5)
        >>> z = F.one_hot(torch.randint(0, 3, (1, 6, 6)), 3).permute(0, 3, 1, 2).float()
        >>> filter_with_selection(x, w, z).shape
        torch.Size([1, 4, 6, 6])
    """
    _check_weight(weight)
    n, c_out, c_in, k, _ = weight.shape
    _check_image("x", x, c_in)
    if selection.dim() != 4 or selection.shape[1] != n:
        raise ValueError(f"selection must have shape (B, {n}, H, W), got {tuple(selection.shape)}")
    # Output-channel-major stacking: channel o * n + i is output o of kernel i, so the sum over
    # the group is a grouped 1x1 convolution with unit weights (no reshapes in the graph).
    stacked = weight.transpose(0, 1).reshape(c_out * n, c_in, k, k)
    flat_bias = None if bias is None else bias.transpose(0, 1).reshape(c_out * n)
    y = F.conv2d(x, stacked, flat_bias, padding=k // 2)          # (B, out * n, H, W)
    y = y * torch.cat([selection] * c_out, dim=1)
    ones = torch.ones(c_out, n, 1, 1, dtype=y.dtype, device=y.device)
    return F.conv2d(y, ones, groups=c_out)


def filter_with_index(x: torch.Tensor, weight: torch.Tensor, index: torch.Tensor,
                      bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Eq. 2 with a hard per-pixel kernel index: the inference form of :func:`filter_with_selection`.

    All kernels are applied by one convolution and the chosen kernel's outputs are gathered per
    pixel, so the graph holds no one-hot tensor, no multiplication and no sum over the group.
    (Splitting the group by support size saves multiply-adds but measured slower on onnxruntime.)

    Args:
        x: input image or feature map.
        weight: kernel group ``(n, out, in, K, K)``.
        index: chosen kernel per pixel.
        bias: optional per-kernel bias.

    Shape:
        x ``(B, in, H, W)``, weight ``(n, out, in, K, K)``, index ``(B, H, W)`` int64,
        bias ``(n, out)`` -> ``(B, out, H, W)``

    Example:
        >>> x, w = torch.randn(1, 2, 6, 6), torch.randn(3, 4, 2, 5, 5)
        >>> z = torch.randint(0, 3, (1, 6, 6))
        >>> onehot = F.one_hot(z, 3).permute(0, 3, 1, 2).float()
        >>> torch.allclose(filter_with_index(x, w, z), filter_with_selection(x, w, onehot), atol=1e-5)
        True
    """
    _check_weight(weight)
    n, c_out, c_in, k, _ = weight.shape
    flat_bias = None if bias is None else bias.reshape(-1)
    y = F.conv2d(x, weight.reshape(n * c_out, c_in, k, k), flat_bias, padding=k // 2)
    b, _, h, w = y.shape
    y = y.reshape(b, n, c_out, h, w)
    pick = index.unsqueeze(1).unsqueeze(2).expand(b, 1, c_out, h, w)
    # flatten, not squeeze: a squeeze of a dynamic axis exports as an If that copies the output
    return torch.gather(y, 1, pick).flatten(1, 2)


def hard_onehot(logits: torch.Tensor) -> torch.Tensor:
    """Deterministic one-hot of the argmax over dim 1 (ties go to the lowest index).

    Built from ``argmax`` and an equality against ``arange(n)``, so exactly one kernel is chosen
    per pixel even when scores tie, and the graph exports to ONNX (ArgMax + Equal + Cast).

    Args:
        logits: per-pixel kernel scores.

    Returns:
        A one-hot tensor of the dtype of ``logits``.

    Shape:
        ``(B, n, H, W) -> (B, n, H, W)``

    Example:
        >>> hard_onehot(torch.tensor([1.0, 3.0, 3.0]).view(1, 3, 1, 1)).flatten().tolist()
        [0.0, 1.0, 0.0]
    """
    n = int(logits.shape[1])  # a constant of the exported graph: the group size is fixed
    index = logits.argmax(dim=1, keepdim=True)                   # (B, 1, H, W)
    kernels = torch.arange(n, device=logits.device).view(1, n, 1, 1)
    return (index == kernels).to(logits.dtype)


def straight_through_gumbel(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Straight-through Gumbel-softmax over dim 1: hard one-hot forward, soft gradients.

    Args:
        logits: per-pixel kernel scores.
        tau: softmax temperature (> 0) of the relaxation used for the gradients.

    Returns:
        A tensor whose values are a one-hot sample of ``softmax(logits)`` and whose gradient is
        that of ``softmax((logits + g) / tau)`` for the same Gumbel noise ``g``.

    Shape:
        ``(B, n, H, W) -> (B, n, H, W)``

    Example:
        >>> z = straight_through_gumbel(torch.randn(1, 4, 3, 3))
        >>> bool((z.sum(dim=1) == 1).all())
        True
    """
    gumbels = -torch.empty_like(logits).exponential_().log()
    soft = ((logits + gumbels) / tau).softmax(dim=1)
    hard = hard_onehot(soft.detach())
    return hard - soft.detach() + soft


def pafu_decorrelation_loss(weight: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Decorrelation penalty of a kernel group, ``||W_f W_f^T - I||_F^2`` (eq. 3).

    ``W_f`` stacks the flattened kernels (zero-padded to a common size) as rows, each scaled to
    unit L2 norm, so the penalty is the sum of squared pairwise cosine similarities (plus one for
    every all-zero kernel). It is zero exactly when the kernels are mutually orthogonal.

    Args:
        weight: the kernel group; every dimension after the first is flattened.
        eps: floor of the norm used to normalise a kernel.

    Returns:
        A scalar tensor.

    Shape:
        ``(n, ...) -> ()``

    Example:
        >>> w = torch.eye(4).reshape(4, 1, 1, 2, 2)
        >>> float(pafu_decorrelation_loss(w))
        0.0
    """
    rows = F.normalize(weight.reshape(weight.shape[0], -1), dim=1, eps=eps)
    gram = rows @ rows.transpose(0, 1)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return ((gram - eye) ** 2).sum()


# ---------------------------------------------------------------------------------------------
# the module
# ---------------------------------------------------------------------------------------------

def _build_selector(in_channels: int, width: int, depth: int, n: int) -> nn.Sequential:
    layers = []
    channels = in_channels
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=False)]
        channels = width
    layers.append(nn.Conv2d(channels, n, 1))
    return nn.Sequential(*layers)


class PAFU(nn.Module):
    """Pixel Adaptive Filtering Unit: per-pixel choice of one kernel from a learned group.

    The selector ``phi`` (``selector_depth`` 3x3 conv + ReLU layers of width ``selector_channels``,
    then a 1x1 conv to ``n`` logits) scores the kernels at every pixel, from ``guide`` when given
    (e.g. embeddings of a surrounding network) or from ``x`` itself. In training mode the choice is
    a straight-through Gumbel-softmax sample at temperature ``tau``; in eval mode it is the argmax
    (deterministic, ONNX-exportable). The chosen kernel filters ``x`` with 'same' zero padding.

    Kernels use the ``nn.Conv2d`` layout and convention and are stored in ``weight`` with shape
    ``(n, out, in, K, K)``, ``K = max(kernel_sizes)``; kernel ``i`` lives in the central
    ``kernel_sizes[i]`` square, and the ring around it is held at zero by a fixed mask.

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of the output.
        kernel_sizes: odd support size of each kernel of the group, e.g. ``(5,) * 8 + (7,) * 8``.
        selector_channels: width of the selector's hidden layers.
        selector_depth: number of 3x3 conv + ReLU layers of the selector (0 gives a 1x1 selector).
        selector_in_channels: channels of ``guide``; defaults to ``in_channels``.
        tau: Gumbel-softmax temperature used in training.
        bias: add a learned per-kernel bias (the bias of the selected kernel).

    Shape:
        x ``(B, in, H, W)``, guide ``(B, selector_in, H, W)`` -> ``(B, out, H, W)``

    Example:
        >>> m = PAFU(1, 3, (5,) * 4 + (7,) * 4).eval()
        >>> m(torch.randn(2, 1, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
        >>> m.receptive_field
        7
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 selector_channels: int = 16, selector_depth: int = 2,
                 selector_in_channels: Optional[int] = None, tau: float = 1.0,
                 bias: bool = False) -> None:
        super().__init__()
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.out_channels = _check_int("out_channels", out_channels, 1)
        self.kernel_sizes = _check_kernel_sizes(kernel_sizes)
        self.selector_channels = _check_int("selector_channels", selector_channels, 1)
        self.selector_depth = _check_int("selector_depth", selector_depth, 0)
        self.selector_in_channels = (self.in_channels if selector_in_channels is None else
                                     _check_int("selector_in_channels", selector_in_channels, 1))
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
            raise ValueError(f"tau must be a float > 0, got {tau!r}")
        self.tau = float(tau)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__} {bias!r}")

        n, k = len(self.kernel_sizes), max(self.kernel_sizes)
        mask = torch.zeros(n, 1, 1, k, k)
        for i, ki in enumerate(self.kernel_sizes):
            lo = (k - ki) // 2
            mask[i, :, :, lo:lo + ki, lo:lo + ki] = 1.0
        self.register_buffer("mask", mask, persistent=False)

        self.weight = nn.Parameter(torch.empty(n, self.out_channels, self.in_channels, k, k))
        self.bias = nn.Parameter(torch.empty(n, self.out_channels)) if bias else None
        self.selector = _build_selector(self.selector_in_channels, self.selector_channels,
                                        self.selector_depth, n)
        self.reset_parameters()

    # -- set-up --------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Initialise every kernel like ``nn.Conv2d`` of its own size (uniform, 1/sqrt(fan_in))."""
        with torch.no_grad():
            for i, ki in enumerate(self.kernel_sizes):
                bound = 1.0 / float(np.sqrt(self.in_channels * ki * ki))
                self.weight[i].uniform_(-bound, bound)
                if self.bias is not None:
                    self.bias[i].uniform_(-bound, bound)
            self.weight.mul_(self.mask)

    @property
    def num_kernels(self) -> int:
        """Number ``n`` of kernels in the group."""
        return len(self.kernel_sizes)

    @property
    def max_kernel_size(self) -> int:
        """Size ``K`` every kernel is padded to."""
        return max(self.kernel_sizes)

    @property
    def receptive_field(self) -> int:
        """Side of the square window of ``x`` the output at a pixel depends on (odd int).

        Both the filter (radius ``K // 2``) and the selector (radius ``selector_depth``) are centred
        on the output pixel, so the window is ``2 * max(K // 2, selector_depth) + 1``. Tiles need a
        halo of at least ``receptive_field // 2`` pixels. When a ``guide`` is passed, the window of
        the network producing it adds to the selector's radius; that part is the caller's.
        """
        return 2 * max(self.max_kernel_size // 2, self.selector_depth) + 1

    def kernels(self) -> torch.Tensor:
        """The kernel group with the padding ring forced to zero, shape ``(n, out, in, K, K)``."""
        return self.weight * self.mask

    def set_kernels(self, weight: Union[torch.Tensor, np.ndarray, Sequence],
                    bias: Union[torch.Tensor, np.ndarray, None] = None) -> None:
        """Load the kernel group, e.g. from a least-squares solve.

        Args:
            weight: either one array of shape ``(n, out, in, K, K)`` whose entries outside each
                kernel's own support are zero, or a sequence of ``n`` arrays, kernel ``i`` of shape
                ``(out, in, kernel_sizes[i], kernel_sizes[i])`` (padded here).
            bias: optional ``(n, out)`` per-kernel bias; only for a module built with ``bias=True``.

        Raises:
            ValueError: on a shape mismatch, a non-zero entry in a padding ring, or a bias for a
                module without one.
        """
        n, k = self.num_kernels, self.max_kernel_size
        c_out, c_in = self.out_channels, self.in_channels
        if isinstance(weight, (list, tuple)):
            if len(weight) != n:
                raise ValueError(f"expected {n} kernels, got {len(weight)}")
            full = torch.zeros(n, c_out, c_in, k, k, dtype=torch.float64)
            for i, (ki, w) in enumerate(zip(self.kernel_sizes, weight)):
                w = torch.as_tensor(w)
                if tuple(w.shape) != (c_out, c_in, ki, ki):
                    raise ValueError(f"kernel {i} must have shape {(c_out, c_in, ki, ki)}, "
                                     f"got {tuple(w.shape)}")
                lo = (k - ki) // 2
                full[i, :, :, lo:lo + ki, lo:lo + ki] = w.to(torch.float64)
        else:
            full = torch.as_tensor(weight)
            if tuple(full.shape) != (n, c_out, c_in, k, k):
                raise ValueError(f"weight must have shape {(n, c_out, c_in, k, k)}, "
                                 f"got {tuple(full.shape)}")
            outside = (full * (1 - self.mask.to(full.device, full.dtype))).abs().amax()
            if outside > 0:
                raise ValueError("weight has non-zero entries outside the kernels' supports "
                                 f"{self.kernel_sizes} (largest {float(outside):.3g})")
        if bias is not None:
            if self.bias is None:
                raise ValueError("bias given but the module was built with bias=False")
            bias = torch.as_tensor(bias)
            if tuple(bias.shape) != (n, c_out):
                raise ValueError(f"bias must have shape {(n, c_out)}, got {tuple(bias.shape)}")
        with torch.no_grad():
            self.weight.copy_(full.to(self.weight.dtype))
            self.weight.mul_(self.mask)
            if bias is not None:
                self.bias.copy_(bias.to(self.bias.dtype))

    # -- selection -----------------------------------------------------------------------------

    def logits(self, source: torch.Tensor) -> torch.Tensor:
        """Selector scores of the kernels.

        Args:
            source: ``guide`` when the module is used with one, else ``x``.

        Returns:
            Unnormalised per-pixel kernel scores.

        Shape:
            ``(B, selector_in, H, W) -> (B, n, H, W)``
        """
        _check_image("selector input", source, self.selector_in_channels)
        return self.selector(source)

    def select(self, source: torch.Tensor) -> torch.Tensor:
        """One-hot kernel choice per pixel.

        In training mode a straight-through Gumbel-softmax sample (random, with soft gradients);
        in eval mode the argmax of :meth:`logits` (deterministic, lowest index on ties).

        Args:
            source: ``guide`` when the module is used with one, else ``x``.

        Returns:
            A one-hot tensor along dim 1.

        Shape:
            ``(B, selector_in, H, W) -> (B, n, H, W)``
        """
        logits = self.logits(source)
        if self.training:
            selection = straight_through_gumbel(logits, self.tau)
            self._last_selection = (selection.detach(), logits)
            return selection
        return hard_onehot(logits)

    def forward(self, x: torch.Tensor, guide: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Filter every pixel of ``x`` with its selected kernel.

        Args:
            x: the tensor to filter.
            guide: optional input of the selector (same batch, height and width as ``x``);
                ``x`` itself when omitted.

        Returns:
            The filtered tensor.

        Shape:
            ``(B, in, H, W)`` (and guide ``(B, selector_in, H, W)``) -> ``(B, out, H, W)``
        """
        _check_image("x", x, self.in_channels)
        if guide is None:
            source = x
        else:
            _check_image("guide", guide, self.selector_in_channels)
            if guide.shape[0] != x.shape[0] or guide.shape[2:] != x.shape[2:]:
                raise ValueError(f"guide must match x in batch, height and width: x "
                                 f"{tuple(x.shape)}, guide {tuple(guide.shape)}")
            source = guide
        if not self.training:
            self._last_selection = None
            return filter_with_index(x, self.kernels(), self.logits(source).argmax(1), self.bias)
        return filter_with_selection(x, self.kernels(), self.select(source), self.bias)

    # -- regularisation ------------------------------------------------------------------------

    def usage_balance_loss(self) -> torch.Tensor:
        """Load balance of the last training-mode selection: ``n * sum_i f_i * P_i``, with ``f_i``
        the share of pixels that picked kernel ``i`` and ``P_i`` its mean softmax probability (the
        switch-routing balance loss). It is 1 at uniform use and ``n`` when one kernel takes every
        pixel, so adding it keeps straight-through selection from collapsing onto one kernel.

        Returns:
            A scalar tensor; zero before the first training-mode forward pass.
        """
        kept = self._kept_selection()
        if kept is None:
            return self.weight.new_zeros(())
        hard, logits = kept
        share = hard.mean((0, 2, 3))
        probability = logits.softmax(1).mean((0, 2, 3))
        return self.num_kernels * (share * probability).sum()

    def selection_information_loss(self) -> torch.Tensor:
        """Confident and balanced selection, from the last training-mode pass: ``log n - H(mean p) +
        mean H(p)``, with ``p`` the per-pixel softmax of the logits and ``H`` the entropy (nats).

        It is 0 when every pixel is sure of its kernel and the kernels share the pixels equally, and
        ``log n`` both when one kernel takes every pixel and when every pixel's scores are flat.
        :meth:`usage_balance_loss` is also satisfied by flat scores, under which the Gumbel samples
        spread over the group in training while the argmax at inference can still pick one kernel
        everywhere; this term rules that out (maximising the mutual information between pixels and
        kernels).

        Returns:
            A scalar tensor; zero before the first training-mode forward pass.
        """
        kept = self._kept_selection()
        if kept is None:
            return self.weight.new_zeros(())
        _, logits = kept
        log_p = logits.log_softmax(1)
        p = log_p.exp()
        mean = p.mean((0, 2, 3))
        marginal = -(mean * mean.clamp_min(1e-12).log()).sum()
        pixel = -(p * log_p).sum(1).mean()
        return math.log(self.num_kernels) - marginal + pixel

    def _kept_selection(self):
        """``(one-hot choice, logits)`` of the last training-mode pass, or ``None``."""
        return getattr(self, "_last_selection", None)

    def release_selection(self) -> None:
        """Drop the selection kept for :meth:`usage_balance_loss` (it holds the step's graph); call
        after each optimiser step."""
        self._last_selection = None

    def decorrelation_loss(self) -> torch.Tensor:
        """Decorrelation penalty of this group (eq. 3); see :func:`pafu_decorrelation_loss`."""
        return pafu_decorrelation_loss(self.kernels())

    # -- export-time simplification ------------------------------------------------------------

    def _check_index(self, index) -> int:
        index = _check_int("index", index, 0)
        if index >= self.num_kernels:
            raise ValueError(f"index must be in [0, {self.num_kernels}), got {index}")
        return index

    def _own_kernel(self, index: int) -> torch.Tensor:
        """Kernel ``index`` trimmed to its own support, shape ``(out, in, k_i, k_i)``."""
        ki, k = self.kernel_sizes[index], self.max_kernel_size
        lo = (k - ki) // 2
        return self.weight[index, :, :, lo:lo + ki, lo:lo + ki]

    def collapse(self, index: int) -> nn.Conv2d:
        """The plain convolution equal to this unit when the selector always picks ``index``.

        Args:
            index: the kernel to keep.

        Returns:
            An ``nn.Conv2d`` with the kernel trimmed to its own size ``kernel_sizes[index]`` and
            'same' zero padding (bias included when the unit has one).

        Shape:
            ``(B, in, H, W) -> (B, out, H, W)``

        Example:
            >>> m = PAFU(2, 3, (3, 5))
            >>> m.collapse(0).weight.shape
            torch.Size([3, 2, 3, 3])
        """
        index = self._check_index(index)
        ki = self.kernel_sizes[index]
        conv = nn.Conv2d(self.in_channels, self.out_channels, ki, padding=ki // 2,
                         bias=self.bias is not None)
        conv = conv.to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            conv.weight.copy_(self._own_kernel(index))
            if self.bias is not None:
                conv.bias.copy_(self.bias[index])
        return conv

    def prune(self, keep_indices: Sequence[int]) -> "PAFU":
        """A new unit holding only the kernels ``keep_indices`` (in that order).

        The selector is copied and its last layer sliced to the kept kernels, so wherever the
        original unit picked a kept kernel the pruned one picks the same kernel and gives the
        same output. Kernel ``j`` of the result is kernel ``keep_indices[j]`` of this unit; the
        result is padded to the largest kept size.

        Args:
            keep_indices: distinct kernel indices, at least one.

        Returns:
            A new ``PAFU`` in the same training mode, dtype and device; this unit is unchanged.

        Example:
            >>> m = PAFU(1, 1, (3, 5, 7))
            >>> m.prune([0, 1]).kernel_sizes
            (3, 5)
        """
        if isinstance(keep_indices, (int, np.integer)) or not isinstance(keep_indices, Sequence):
            raise TypeError(f"keep_indices must be a sequence of ints, got {keep_indices!r}")
        keep = [self._check_index(i) for i in keep_indices]
        if not keep:
            raise ValueError("keep_indices must keep at least one kernel, got none")
        if len(set(keep)) != len(keep):
            raise ValueError(f"keep_indices must be distinct, got {list(keep_indices)}")
        sizes = tuple(self.kernel_sizes[i] for i in keep)
        pruned = PAFU(self.in_channels, self.out_channels, sizes,
                      selector_channels=self.selector_channels, selector_depth=self.selector_depth,
                      selector_in_channels=self.selector_in_channels, tau=self.tau,
                      bias=self.bias is not None)
        pruned = pruned.to(device=self.weight.device, dtype=self.weight.dtype)
        pruned.train(self.training)
        pruned.set_kernels([self._own_kernel(i).detach() for i in keep],
                           None if self.bias is None else self.bias.detach()[keep])
        selector = copy.deepcopy(self.selector)
        last = selector[-1]
        sliced = nn.Conv2d(last.in_channels, len(keep), last.kernel_size, padding=last.padding,
                           bias=last.bias is not None).to(device=last.weight.device,
                                                          dtype=last.weight.dtype)
        with torch.no_grad():
            sliced.weight.copy_(last.weight[keep])
            if last.bias is not None:
                sliced.bias.copy_(last.bias[keep])
        selector[-1] = sliced
        pruned.selector = selector
        return pruned

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{k}x{k}*{self.kernel_sizes.count(k)}"
                          for k in sorted(set(self.kernel_sizes)))
        return (f"{self.in_channels}, {self.out_channels}, kernels=[{sizes}], "
                f"selector={self.selector_depth}x{self.selector_channels}, tau={self.tau}, "
                f"bias={self.bias is not None}")
