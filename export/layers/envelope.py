"""Gaussian envelope and disentangled convolution (a learned receptive field).

A k x k convolution is disentangled into a channel-wise Gaussian envelope with a learned scale
``sigma_c`` per channel and a small discrete filter::

    X_bar(., c) = g(.; sigma_c) * X(., c)                       (envelope, eq. 3)
    Y(., d)     = sum_c F(., c, d) * X_bar(., c)                (k x k conv, eq. 4)

The envelope is separable, ``g(x, y) = g(x) g(y)``, and each 1-D factor has ``2r + 1`` taps::

    g_sigma = softmax({-t^2 / (2 sigma^2)} for t in [-r, r])            (eq. 9)
    sigma^2 = softplus(sigma_raw)

so it is applied as a depthwise 1-D convolution along W followed by one along H. The learned
``sigma`` sets the *effective* receptive field; after training the window is usually shrunk from
9 to 3 taps at the same ``sigma`` (softmax-renormalised over the smaller window), which is what
:meth:`GaussianEnvelope.shrink` returns, and :meth:`GaussianEnvelope.mass_kept` gives the share of
the trained envelope's mass that the smaller window keeps.

Export: the taps are computed from ``sigma_raw`` in ``forward``. The TorchScript ONNX exporter's
constant folding does not cover ``Softplus``/``Softmax``, so a :class:`GaussianEnvelope` traced in
eval mode records its taps as constants itself; the graph then holds two plain depthwise ``Conv``
nodes per envelope.
"""
from __future__ import annotations

import copy
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from ._checks import check_input as _check_input, check_int as _check_int, check_positive as _check_positive

__all__ = ["gaussian_taps", "gaussian_envelope", "GaussianEnvelope", "DisentangledConv"]

_ORDERS = ("envelope_first", "conv_first")


# ----------------------------------------------------------------------------------- checks --

def _check_sigma_raw(sigma_raw) -> None:
    if not isinstance(sigma_raw, torch.Tensor):
        raise TypeError(f"sigma_raw must be a torch.Tensor, got {type(sigma_raw).__name__}")
    if sigma_raw.dim() != 1 or sigma_raw.numel() < 1:
        raise ValueError("sigma_raw must have shape (C,) with C >= 1, "
                         f"got {tuple(sigma_raw.shape)}")
    if not sigma_raw.is_floating_point():
        raise TypeError(f"sigma_raw must be a floating-point tensor, got {sigma_raw.dtype}")


def _softplus_inverse(y: float) -> float:
    """``x`` such that ``softplus(x) == y`` for ``y > 0``, stable for small and large ``y``."""
    return y + math.log(-math.expm1(-y))


# ------------------------------------------------------------------------------------- math --

def gaussian_taps(sigma_raw: torch.Tensor, radius: int) -> torch.Tensor:
    """1-D Gaussian envelope taps per channel, softmax-normalised over the window (eq. 9).

    ``sigma^2 = softplus(sigma_raw)`` and ``taps[c, t + r] = softmax_t(-t^2 / (2 sigma_c^2))`` for
    ``t`` in ``[-r, r]``; each row sums to 1.

    Args:
        sigma_raw: the unconstrained per-channel scale parameter ``sigma~``.
        radius: the half-width ``r`` of the window (an integer >= 0).

    Returns:
        The taps, with the dtype and device of ``sigma_raw``.

    Shape:
        ``(C,) -> (C, 2r+1)``

    Example:
        >>> taps = gaussian_taps(torch.zeros(2), radius=1)
        >>> taps.shape
        torch.Size([2, 3])
        >>> torch.allclose(taps.sum(dim=1), torch.ones(2))
        True
    """
    radius = _check_int("radius", radius, 0)
    _check_sigma_raw(sigma_raw)
    var = F.softplus(sigma_raw).unsqueeze(1)                                   # (C, 1)
    t = torch.arange(-radius, radius + 1, dtype=sigma_raw.dtype, device=sigma_raw.device)
    return torch.softmax(-(t * t) / (2.0 * var), dim=1)                        # (C, 2r+1)


def gaussian_envelope(x: torch.Tensor, sigma_raw: torch.Tensor, radius: int) -> torch.Tensor:
    """Channel-wise separable Gaussian envelope (eq. 3), zero 'same' padding.

    A depthwise 1-D convolution with :func:`gaussian_taps` along W, then the same along H.

    Args:
        x: the input feature map.
        sigma_raw: the unconstrained per-channel scale ``sigma~``, one per input channel.
        radius: the half-width ``r`` of the window (an integer >= 0).

    Returns:
        The smoothed feature map.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``

    Example:
        >>> x = torch.rand(1, 2, 5, 6)
        >>> gaussian_envelope(x, torch.zeros(2), radius=2).shape
        torch.Size([1, 2, 5, 6])
    """
    return _separable(x, gaussian_taps(sigma_raw, radius))


def _separable(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Depthwise 1-D convolution with ``taps`` (C, 2r+1) along W, then along H; zero padding."""
    channels, size = taps.shape
    radius = size // 2
    _check_input(x, channels)
    x = F.conv2d(x, taps.reshape(channels, 1, 1, size), padding=(0, radius), groups=channels)
    return F.conv2d(x, taps.reshape(channels, 1, size, 1), padding=(radius, 0), groups=channels)


def _outer_product(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """:func:`_separable` as one depthwise 2-D convolution with the outer product of ``taps``."""
    channels, size = taps.shape
    _check_input(x, channels)
    kernel = taps[:, :, None] * taps[:, None, :]
    return F.conv2d(x, kernel.reshape(channels, 1, size, size), padding=size // 2, groups=channels)


# ---------------------------------------------------------------------------------- modules --

class GaussianEnvelope(nn.Module):
    """Learned channel-wise separable Gaussian envelope (Disentangled Convolution, eq. 3 and 9).

    Holds one parameter ``sigma_raw`` (C,) with ``sigma^2 = softplus(sigma_raw)``; the window
    has ``2 * radius + 1`` taps per axis. Zero 'same' padding keeps H and W, so near the border
    the output is attenuated (the envelope mass falling outside the image is lost).

    Args:
        channels: number of channels ``C`` (each gets its own ``sigma``).
        radius: window half-width ``r`` (an integer >= 0); 4 gives the 9-tap training window.
        init_sigma: initial ``sigma`` of every channel (> 0).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``

    Example:
        >>> env = GaussianEnvelope(3, radius=4, init_sigma=1.0)
        >>> env(torch.rand(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
        >>> env.receptive_field, env.shrink(1).receptive_field
        (9, 3)
    """

    def __init__(self, channels: int, radius: int = 4, init_sigma: float = 1.0) -> None:
        super().__init__()
        self.channels = _check_int("channels", channels, 1)
        self.radius = _check_int("radius", radius, 0)
        init_sigma = _check_positive("init_sigma", init_sigma)
        raw = _softplus_inverse(init_sigma * init_sigma)
        self.sigma_raw = nn.Parameter(torch.full((self.channels,), raw, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the envelope; ``(N, C, H, W) -> (N, C, H, W)``.

        When traced in eval mode (ONNX export) the taps enter the graph as constants, so the
        exported envelope is two depthwise ``Conv`` nodes with constant weights (the exporter's
        own constant folding does not cover ``Softplus``/``Softmax``); a 3-tap envelope is one
        depthwise 3x3 ``Conv`` with the outer product of its taps, the same values in one pass
        over the maps instead of two (on onnxruntime nearly free next to the 3x3 convolution
        that follows, where the two 1-D passes cost about 15 % of it).
        """
        if torch.jit.is_tracing() and not self.training:
            taps = self._constant_taps()
            if self.radius == 1:
                return _outer_product(x, taps)
            return _separable(x, taps)
        return gaussian_envelope(x, self.sigma_raw, self.radius)

    def _constant_taps(self) -> torch.Tensor:
        """The taps as a tensor detached from ``sigma_raw``, recorded as a constant by a trace."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            taps = gaussian_taps(self.sigma_raw.detach(), self.radius)
            return torch.tensor(taps.tolist(), dtype=taps.dtype, device=taps.device)

    def taps(self) -> torch.Tensor:
        """The current 1-D taps, ``(C, 2r+1)``; see :func:`gaussian_taps`."""
        return gaussian_taps(self.sigma_raw, self.radius)

    @property
    def sigma(self) -> torch.Tensor:
        """The learned scale ``sigma = sqrt(softplus(sigma_raw))``, shape ``(C,)``."""
        return F.softplus(self.sigma_raw).sqrt()

    @property
    def receptive_field(self) -> int:
        """Window size per axis, ``2r + 1``."""
        return 2 * self.radius + 1

    def _check_smaller_radius(self, radius) -> int:
        radius = _check_int("radius", radius, 0)
        if radius > self.radius:
            raise ValueError(f"radius must be <= the envelope's radius {self.radius}, got {radius}")
        return radius

    def shrink(self, radius: int = 1) -> "GaussianEnvelope":
        """A new envelope with a smaller window at the same learned ``sigma``.

        The taps are softmax-renormalised over the smaller window, so they still sum to 1
        (e.g. 9 taps in training, 3 taps at inference). The copy has its own parameter, on the
        same device and dtype, in the same training mode.

        Args:
            radius: the new half-width, ``0 <= radius <= self.radius``.

        Returns:
            A new :class:`GaussianEnvelope` with ``2 * radius + 1`` taps.

        Example:
            >>> env = GaussianEnvelope(4, radius=4, init_sigma=0.5)
            >>> small = env.shrink(1)
            >>> small.taps().shape, torch.allclose(small.sigma, env.sigma)
            (torch.Size([4, 3]), True)
        """
        radius = self._check_smaller_radius(radius)
        new = GaussianEnvelope(self.channels, radius=radius)
        new.sigma_raw = nn.Parameter(self.sigma_raw.detach().clone(),
                                     requires_grad=self.sigma_raw.requires_grad)
        return new.train(self.training)

    def mass_kept(self, radius: int = 1) -> torch.Tensor:
        """Share of the full 2-D envelope's mass inside the smaller ``(2 radius + 1)^2`` window.

        With the full-window taps ``g`` (summing to 1), the separable 2-D envelope is
        ``g g^T`` and the share is ``(sum_{|t| <= radius} g[t])^2``, per channel; it lies in
        ``(0, 1]`` and falls as ``sigma`` grows. This is the figure to report for
        :meth:`shrink`.

        Args:
            radius: the smaller half-width, ``0 <= radius <= self.radius``.

        Returns:
            The kept mass per channel (differentiable with respect to ``sigma_raw``).

        Shape:
            ``() -> (C,)``

        Example:
            >>> env = GaussianEnvelope(2, radius=4, init_sigma=0.3)
            >>> bool((env.mass_kept(1) > 0.999).all())
            True
        """
        radius = self._check_smaller_radius(radius)
        taps = self.taps()
        centre = taps[:, self.radius - radius:self.radius + radius + 1].sum(dim=1)
        return centre * centre

    def extra_repr(self) -> str:
        return f"channels={self.channels}, radius={self.radius}"


class DisentangledConv(nn.Module):
    """Disentangled convolution: a learned Gaussian envelope and a small k x k convolution.

    ``order="envelope_first"`` is the paper's layer (eq. 3-4): the envelope smooths the
    ``in_channels`` inputs, one ``sigma`` each, then a k x k convolution mixes the channels.
    ``order="conv_first"`` convolves first and smooths the ``out_channels`` outputs (eq. 5-6);
    the bias, if any, is added before the envelope. Both use zero 'same' padding, so H and W
    are kept, and the receptive field is ``kernel_size + 2 * radius``.

    Args:
        in_channels: input channels ``C`` (>= 1).
        out_channels: output channels ``D`` (>= 1).
        kernel_size: size ``k`` of the discrete filter (odd, >= 1).
        radius: envelope half-width ``r`` (an integer >= 0).
        order: ``"envelope_first"`` or ``"conv_first"``.
        bias: whether the convolution has a bias.
        init_sigma: initial envelope ``sigma`` of every channel (> 0).

    Shape:
        ``(N, C, H, W) -> (N, D, H, W)``

    Example:
        >>> layer = DisentangledConv(3, 8, kernel_size=3, radius=4)
        >>> layer(torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
        >>> layer.receptive_field, layer.shrink(1).receptive_field
        (11, 5)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 radius: int = 4, order: str = "envelope_first", bias: bool = True,
                 init_sigma: float = 1.0) -> None:
        super().__init__()
        in_channels = _check_int("in_channels", in_channels, 1)
        out_channels = _check_int("out_channels", out_channels, 1)
        kernel_size = _check_int("kernel_size", kernel_size, 1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        if order not in _ORDERS:
            raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be a bool, got {bias!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.order = order
        env_channels = in_channels if order == "envelope_first" else out_channels
        self.envelope = GaussianEnvelope(env_channels, radius=radius, init_sigma=init_sigma)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                              padding=kernel_size // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Envelope then conv, or conv then envelope; ``(N, C, H, W) -> (N, D, H, W)``."""
        if self.order == "envelope_first":
            return self.conv(self.envelope(x))
        _check_input(x, self.in_channels)
        return self.envelope(self.conv(x))

    @property
    def radius(self) -> int:
        """The envelope's half-width ``r``."""
        return self.envelope.radius

    @property
    def receptive_field(self) -> int:
        """Receptive field per axis, ``kernel_size + 2r``."""
        return self.kernel_size + 2 * self.envelope.radius

    def shrink(self, radius: int = 1) -> "DisentangledConv":
        """A copy whose envelope is shrunk to ``2 * radius + 1`` taps at the same ``sigma``.

        Args:
            radius: the new envelope half-width, ``0 <= radius <= self.radius``.

        Returns:
            A new :class:`DisentangledConv`; the convolution weights are copied.

        Example:
            >>> layer = DisentangledConv(2, 4, radius=4).shrink(1)
            >>> layer.radius, layer.receptive_field
            (1, 5)
        """
        small = self.envelope.shrink(radius)
        new = copy.deepcopy(self)
        new.envelope = small
        return new

    def mass_kept(self, radius: int = 1) -> torch.Tensor:
        """Per-channel envelope mass kept by :meth:`shrink`; see :meth:`GaussianEnvelope.mass_kept`.

        Shape:
            ``() -> (C,)`` for ``envelope_first``, ``() -> (D,)`` for ``conv_first``.
        """
        return self.envelope.mass_kept(radius)

    def extra_repr(self) -> str:
        return f"order={self.order!r}"
