"""Dynamic steerable convolution: a Gaussian-derivative frame steered per pixel by a pose network.

Jacobsen's dynamic steerable two-factor block (thesis ch. 4, eq. 29) replaces a convolution's
static filters ``W`` by ``H(x) = F(Phi(x)) Phi(x) W``:

1. **Frame.** ``Phi(x)``: every input channel is convolved with the isotropic Gaussian of scale
   ``sigma`` and all its derivatives up to ``order`` (:func:`~export.layers.gaussian_derivative.
   gaussian_derivative_kernels` at ``theta = 0``), ``D = (order + 1)(order + 2) / 2`` maps per
   channel, ordered as :func:`~export.layers.gaussian_derivative.derivative_orders`.
2. **Pose.** A small network ``F`` (three convolutions, ``tanh`` between, as in the thesis) reads
   the frame responses and outputs one angle per pixel and input channel,
   ``theta = pi * tanh(.)``.
3. **Steering.** The frame is steerable under rotation (eq. 25): the derivatives of the
   Gaussian along axes turned by ``theta`` are fixed linear combinations of the axis-aligned ones,
   ``Phi_theta = S(theta) Phi_0`` with ``d/du = cos d/dx + sin d/dy`` and
   ``d/dv = -sin d/dx + cos d/dy`` (:func:`steering_matrix`; the trigonometric steering
   functions act as the pose activation). Each pixel's responses are turned by its own angle.
4. **Canonical feature.** A 1x1 convolution ``W`` mixes the steered responses into the outputs,
   so the effective filter at a pixel is ``sum_n w_n sum_m S(theta)_nm phi_m`` (eq. 27): the
   canonical filter ``W Phi_0`` turned by the pixel's pose.

With ``dynamic=False`` the pose network is left out and ``theta = 0`` everywhere: a static
convolution in the Gaussian-derivative frame, the block's ablation.

Steering matrix rows follow :func:`derivative_orders`: entry ``[(i, j), (p, q)]`` is the
coefficient of ``d^p/dx^p d^q/dy^q`` in ``(cos d/dx + sin d/dy)^i (-sin d/dx + cos d/dy)^j``;
derivatives of different total order never mix.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int, check_positive
from .gaussian_derivative import derivative_orders, gaussian_derivative_kernels


def _poly_mul(a: dict, b: dict) -> dict:
    out: dict = {}
    for (p1, q1), c1 in a.items():
        for (p2, q2), c2 in b.items():
            key = (p1 + p2, q1 + q2)
            out[key] = out[key] + c1 * c2 if key in out else c1 * c2
    return out


def steering_matrix(theta: torch.Tensor, order: int) -> torch.Tensor:
    """Rotation of the Gaussian-derivative frame: ``S(theta) @ Phi_0 = Phi_theta``.

    Args:
        theta: angles in radians (any shape ``A``), from the ``x`` axis towards ``y``.
        order: the largest derivative order of the frame.

    Returns:
        ``(*A, D, D)`` with ``D = (order + 1)(order + 2) / 2``, rows and columns in
        :func:`~export.layers.gaussian_derivative.derivative_orders` order.

    Example:
        >>> S = steering_matrix(torch.tensor(math.pi / 2), 1)
        >>> [[round(v) for v in row] for row in S.tolist()]  # d/du = d/dy, d/dv = -d/dx
        [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    """
    order = check_int("order", order, 0)
    c, s = torch.cos(theta), torch.sin(theta)
    du = {(1, 0): c, (0, 1): s}
    dv = {(1, 0): -s, (0, 1): c}
    orders = derivative_orders(order)
    index = {pq: k for k, pq in enumerate(orders)}
    zero = torch.zeros_like(theta)
    rows = []
    for i, j in orders:
        poly: dict = {(0, 0): torch.ones_like(theta)}
        for _ in range(i):
            poly = _poly_mul(poly, du)
        for _ in range(j):
            poly = _poly_mul(poly, dv)
        row = [zero] * len(orders)
        for pq, coefficient in poly.items():
            row[index[pq]] = coefficient
        rows.append(torch.stack(row, -1))
    return torch.stack(rows, -2)


class DynamicSteerableConv(nn.Module):
    """A convolution whose Gaussian-derivative filters turn, per pixel, to a learned pose.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        order: largest derivative order of the frame (``2``: 6 maps per channel).
        sigma: scale of the frame's Gaussian in pixels (the thesis uses 0.8-1.5).
        pose_channels: width of the pose network's hidden layers (the thesis: 8-16).
        dynamic: ``False`` for the static ablation (no pose network, ``theta = 0``).

    Shape:
        ``(B, in, H, W) -> (B, out, H, W)``

    Example:
        >>> layer = DynamicSteerableConv(2, 4)
        >>> tuple(layer(torch.rand(1, 2, 16, 16)).shape)
        (1, 4, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, order: int = 2, sigma: float = 1.0,
                 pose_channels: int = 8, dynamic: bool = True):
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.order = check_int("order", order, 1)
        self.sigma = check_positive("sigma", sigma)
        self.dynamic = bool(dynamic)
        self.size = 2 * int(math.ceil(3 * self.sigma)) + 1
        frame = gaussian_derivative_kernels(self.sigma, self.sigma, 0.0, 0.0, 0.0, self.order, self.size)[0]
        self.derivs = frame.shape[0]
        self.register_buffer("frame", frame[:, None].repeat(self.in_channels, 1, 1, 1), persistent=False)
        maps = self.in_channels * self.derivs
        self.mix = nn.Conv2d(maps, self.out_channels, 1)
        if self.dynamic:
            hidden = check_int("pose_channels", pose_channels, 1)
            self.pose = nn.Sequential(nn.Conv2d(maps, hidden, 3, padding=1), nn.Tanh(),
                                      nn.Conv2d(hidden, hidden, 3, padding=1), nn.Tanh(),
                                      nn.Conv2d(hidden, self.in_channels, 3, padding=1))
            nn.init.zeros_(self.pose[-1].weight)  # start at theta = 0: the static frame
            nn.init.zeros_(self.pose[-1].bias)

    @property
    def receptive_field(self) -> int:
        return self.size + (6 if self.dynamic else 0)

    def responses(self, x: torch.Tensor) -> torch.Tensor:
        """``Phi(x)``: ``(B, in, H, W) -> (B, in * D, H, W)``, channel ``c * D + d`` the
        derivative ``d`` of input channel ``c``."""
        return F.conv2d(x, self.frame, padding=self.size // 2, groups=self.in_channels)

    def angles(self, phi: torch.Tensor) -> torch.Tensor:
        """The pose ``theta = pi * tanh(F(Phi(x)))``, ``(B, in, H, W)``; zeros when static."""
        if not self.dynamic:
            b, _, h, w = phi.shape
            return phi.new_zeros(b, self.in_channels, h, w)
        return math.pi * torch.tanh(self.pose(phi))

    def steer(self, phi: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Turn every pixel's frame responses by its angle: ``Phi_theta = S(theta) Phi``."""
        b, _, h, w = phi.shape
        phi = phi.reshape(b, self.in_channels, 1, self.derivs, h, w)
        s = steering_matrix(theta, self.order).permute(0, 1, 4, 5, 2, 3)  # (B, in, D, D, H, W)
        return (s * phi).sum(3).reshape(b, self.in_channels * self.derivs, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x: expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        phi = self.responses(x)
        if self.dynamic:
            phi = self.steer(phi, self.angles(phi))
        return self.mix(phi)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, order={self.order}, sigma={self.sigma}, "
                f"dynamic={self.dynamic}")
