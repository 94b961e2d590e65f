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
    """Product of two polynomials in the derivative operators whose coefficients are polynomials in
    ``(cos, sin)``: ``{(p, q): {(a, b): integer}}`` stands for ``sum c^a s^b d^p/dx^p d^q/dy^q``."""
    out: dict = {}
    for (p1, q1), c1 in a.items():
        for (p2, q2), c2 in b.items():
            term = out.setdefault((p1 + p2, q1 + q2), {})
            for (a1, b1), k1 in c1.items():
                for (a2, b2), k2 in c2.items():
                    term[(a1 + a2, b1 + b2)] = term.get((a1 + a2, b1 + b2), 0) + k1 * k2
    return out


def steering_terms(order: int) -> list[list[tuple[tuple[int, int], list[tuple[int, int]]]]]:
    """The steering matrix as integer polynomials in ``c = cos theta`` and ``s = sin theta``.

    Returns, per row of :func:`steering_matrix`, the monomials ``c^a s^b`` it uses, each with the
    ``(column, integer coefficient)`` pairs it multiplies: ``S[r, col] = sum k c^a s^b``. The rows of
    order ``n`` use only the ``n + 1`` monomials of degree ``n`` and the columns of order ``n``.
    """
    order = check_int("order", order, 0)
    du = {(1, 0): {(1, 0): 1}, (0, 1): {(0, 1): 1}}  # cos d/dx + sin d/dy
    dv = {(1, 0): {(0, 1): -1}, (0, 1): {(1, 0): 1}}  # -sin d/dx + cos d/dy
    orders = derivative_orders(order)
    index = {pq: k for k, pq in enumerate(orders)}
    rows = []
    for i, j in orders:
        poly: dict = {(0, 0): {(0, 0): 1}}
        for _ in range(i):
            poly = _poly_mul(poly, du)
        for _ in range(j):
            poly = _poly_mul(poly, dv)
        by_monomial: dict = {}
        for pq, coefficients in poly.items():
            for monomial, k in coefficients.items():
                if k:
                    by_monomial.setdefault(monomial, []).append((index[pq], k))
        rows.append(sorted((m, sorted(cols)) for m, cols in by_monomial.items()))
    return rows


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
    c, s = torch.cos(theta), torch.sin(theta)
    rows = steering_terms(order)
    out = c.new_zeros(*theta.shape, len(rows), len(rows))
    for r, terms in enumerate(rows):
        for (a, b), cols in terms:
            for col, k in cols:
                out[..., r, col] += k * c ** a * s ** b
    return out


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
        self._terms = steering_terms(self.order)
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
        """Turn every pixel's frame responses by its angle: ``Phi_theta = S(theta) Phi``.

        Applied term by term (:func:`steering_terms`): each steered map is a sum of ``c^a s^b``
        times fixed combinations of the same order's responses, so no per-pixel ``D x D`` matrix is
        built (for order 2: 6 monomial maps per channel instead of 36 matrix entries).
        """
        b, _, h, w = phi.shape
        phi = phi.reshape(b, self.in_channels, self.derivs, h, w)
        cos, sin = [None, torch.cos(theta)], [None, torch.sin(theta)]  # powers 0 (None: the constant 1), 1, ...
        for _ in range(self.order - 1):
            cos.append(cos[-1] * cos[1])
            sin.append(sin[-1] * sin[1])
        monomials = {(a, e): cos[a] if not e else sin[e] if not a else cos[a] * sin[e]
                     for terms in self._terms for (a, e), _ in terms}
        steered = []
        for terms in self._terms:
            total = None
            for (a, e), cols in terms:
                combined = None
                for col, k in cols:
                    term = phi[:, :, col] if k == 1 else k * phi[:, :, col]
                    combined = term if combined is None else combined + term
                m = monomials[(a, e)]
                combined = combined if m is None else m * combined
                total = combined if total is None else total + combined
            steered.append(total)
        return torch.stack(steered, 2).reshape(b, self.in_channels * self.derivs, h, w)

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
