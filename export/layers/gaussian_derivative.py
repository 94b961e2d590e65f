"""Gaussian derivative convolution: kernels built from anisotropic, oriented, shifted Gaussian derivatives.

Every kernel of the layer is a linear combination of a few *bases*. A basis ``b`` is the local
N-jet of one 2-D Gaussian with its own scales ``(sigma_x, sigma_y)``, orientation ``theta`` and
centre ``(shift_x, shift_y)``, all learnable: the Gaussian and all its partial derivatives
``d^(i+j) / du^i dv^j`` with ``i + j <= order``.

Coordinates. A kernel of odd size ``k`` is sampled at the integer offsets ``x, y`` in
``[-(k-1)/2, (k-1)/2]`` of its centre tap, ``x`` along the width (columns, to the right) and ``y``
along the height (rows, downwards): ``kernel[..., r, c]`` is the function at
``(x, y) = (c - (k-1)/2, r - (k-1)/2)``. The rotated, shifted coordinates are::

    u =  (x - shift_x) cos(theta) + (y - shift_y) sin(theta)
    v = -(x - shift_x) sin(theta) + (y - shift_y) cos(theta)

so the shift is given in kernel (image) coordinates -- the Gaussian is centred at
``(shift_x, shift_y)`` whatever ``theta`` is. The paper shifts in the rotated frame; the two
parametrisations are the same family (``mu = R(theta) @ shift``).

Normalisation. The Gaussian has unit integral over the continuous plane::

    G(u, v) = exp(-u^2 / (2 sigma_x^2) - v^2 / (2 sigma_y^2)) / (2 pi sigma_x sigma_y)

and the derivatives are the exact derivatives of that function, written with the probabilists'
Hermite polynomials ``He_n`` (``He_0 = 1``, ``He_1 = t``, ``He_{n+1} = t He_n - n He_{n-1}``)::

    d^(i+j)/du^i dv^j G = (-1/sigma_x)^i He_i(u/sigma_x) (-1/sigma_y)^j He_j(v/sigma_y) G(u, v)

(the paper's eq. 1 with physicists' polynomials, ``H_n(t) = 2^(n/2) He_n(sqrt(2) t)``). The
sampled order-0 kernel therefore sums to about 1 when ``sigma`` is at least ~0.8 pixel and the
window covers about +-3 sigma; no discrete renormalisation is applied, so the sampled
derivatives stay the exact derivatives of the sampled Gaussian.

Derivative order. The ``n_derivs = (order + 1)(order + 2) / 2`` kernels of a basis are ordered by
total order, then by decreasing ``i``: ``(0,0), (1,0), (0,1), (2,0), (1,1), (0,2), ...`` where
``(i, j)`` means ``d^i/du^i d^j/dv^j`` (see :func:`derivative_orders`).

Correlation. ``forward`` runs ``F.conv2d`` (a cross-correlation, like every torch and ONNX conv)
with the sampled kernel as weight: ``out(p) = sum_q kernel(q) in(p + q)``. A Gaussian shifted to
``+s`` hence gathers from ``p + s``, and the response to the odd basis ``dG/du`` is
``-d/du`` of the Gaussian-smoothed input. The learned coefficients absorb that sign.

Combination (``GaussianDerivativeConv``):

- plain (``separated=False``): the weight of output ``o`` for input ``i`` is
  ``W[o, i] = sum_{b, d} alpha[o, i, b, d] * basis[b, d]`` -- the paper's eq. 2 extended to
  several bases shared by all outputs (its eq. 3 is the special case where each output only uses
  one basis);
- separated (``separated=True``): a depthwise stage builds ``depth_multiplier`` (``M``) kernels
  per input channel, ``D[i, m] = sum_{b, d} beta[i, m, b, d] * basis[b, d]``, applied to input
  channel ``i`` alone (``groups = in_channels``), followed by a 1x1 conv ``P`` from the
  ``in_channels * M`` intermediate maps to the outputs. This is a depthwise-separable convolution
  whose depthwise kernels are Gaussian-derivative combinations; its dense equivalent is
  ``W[o, i] = sum_m P[o, i*M + m] D[i, m]``. The paper's eq. 4 (separated combination
  ``sum_n lambda[j, n] sum_i beta[n, i] phi_n * I_i``) is the special case
  ``M = n_bases * n_derivs`` with ``D[i, m] = phi_m`` and a rank-structured ``P``; the form here
  has ``in*M*(n_bases*n_derivs) + in*M*out`` coefficients and exports as one depthwise ``k x k``
  conv plus one 1x1 conv.

Export: :meth:`GaussianDerivativeConv.equivalent_conv` folds basis x coefficients into plain
``nn.Conv2d`` layers (one conv, or depthwise + 1x1 for the separated form); export that. The
module itself also exports and gives the same outputs, but its graph keeps the small
kernel-construction subgraph (Exp, Cos, Sin, Mul, Einsum, ...) in front of the ``Conv`` nodes,
recomputed on every run.
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn
from ._checks import check_input as _check_input, check_int as _check_int, check_positive as _check_positive, check_odd as _check_odd_size

__all__ = [
    "derivative_orders",
    "num_derivatives",
    "hermite_polynomials",
    "gaussian_derivative_kernels",
    "GaussianDerivativeConv",
]


# ----------------------------------------------------------------------------------- checks --

def _basis_params(sigma_x, sigma_y, theta, shift_x, shift_y):
    """Convert the five basis parameters to floating tensors of one common shape ``(B,)``."""
    named = {"sigma_x": sigma_x, "sigma_y": sigma_y, "theta": theta,
             "shift_x": shift_x, "shift_y": shift_y}
    tensors = {}
    for name, value in named.items():
        if isinstance(value, bool) or not isinstance(value, (torch.Tensor, numbers.Real)):
            raise TypeError(f"{name} must be a tensor of shape (B,) or a real number, "
                            f"got {type(value).__name__}")
        t = torch.as_tensor(value)
        if t.dim() > 1:
            raise ValueError(f"{name} must have shape (B,) or be a scalar, got {tuple(t.shape)}")
        tensors[name] = t
    dtype = torch.get_default_dtype()
    floats = [t.dtype for t in tensors.values() if t.is_floating_point()]
    if floats:
        dtype = floats[0]
        for other in floats[1:]:
            dtype = torch.promote_types(dtype, other)
    device = next((v.device for v in named.values() if isinstance(v, torch.Tensor)),
                  torch.device("cpu"))
    tensors = {k: t.to(device=device, dtype=dtype) for k, t in tensors.items()}
    try:
        out = torch.broadcast_tensors(*tensors.values())
    except RuntimeError:
        shapes = {k: tuple(t.shape) for k, t in tensors.items()}
        raise ValueError(f"basis parameters must share one shape (B,), got {shapes}") from None
    out = [t.reshape(-1) for t in out]
    if out[0].numel() < 1:
        raise ValueError("basis parameters must hold at least one basis, got shape (0,)")
    if not torch.jit.is_tracing():
        for name, t in (("sigma_x", out[0]), ("sigma_y", out[1])):
            if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
                raise ValueError(f"{name} must be finite and > 0, got {t.detach().tolist()}")
        for name, t in zip(("theta", "shift_x", "shift_y"), out[2:]):
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} must be finite, got {t.detach().tolist()}")
    return out


# ------------------------------------------------------------------------------------- math --

def derivative_orders(order: int) -> list[tuple[int, int]]:
    """The ``(i, j)`` derivative orders of a basis, in the layer's channel order.

    Args:
        order: the largest total order ``i + j`` (``order >= 0``).

    Returns:
        ``[(i, j), ...]`` for ``d^i/du^i d^j/dv^j``, sorted by total order then decreasing ``i``.

    Example:
        >>> derivative_orders(2)
        [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    """
    order = _check_int("order", order, 0)
    return [(n - j, j) for n in range(order + 1) for j in range(n + 1)]


def num_derivatives(order: int) -> int:
    """Number of kernels in a basis of the given order, ``(order + 1)(order + 2) / 2``.

    Example:
        >>> num_derivatives(2)
        6
    """
    order = _check_int("order", order, 0)
    return (order + 1) * (order + 2) // 2


def hermite_polynomials(t: torch.Tensor, order: int) -> list[torch.Tensor]:
    """Probabilists' Hermite polynomials ``He_0(t) .. He_order(t)`` by the three-term recurrence.

    ``He_n(t) exp(-t^2/2) = (-1)^n d^n/dt^n exp(-t^2/2)``.

    Args:
        t: any tensor.
        order: the largest degree (``>= 0``).

    Returns:
        A list of ``order + 1`` tensors shaped like ``t``.

    Shape:
        ``(*) -> [(*)] * (order + 1)``

    Example:
        >>> [p.item() for p in hermite_polynomials(torch.tensor(2.0), 3)]
        [1.0, 2.0, 3.0, 2.0]
    """
    order = _check_int("order", order, 0)
    polys = [torch.ones_like(t)]
    if order >= 1:
        polys.append(t)
    for n in range(1, order):
        polys.append(t * polys[n] - n * polys[n - 1])
    return polys


def _kernels(sigma_x, sigma_y, theta, shift_x, shift_y, order: int, size: int) -> torch.Tensor:
    """Unchecked core of :func:`gaussian_derivative_kernels` (parameters already ``(B,)``)."""
    half = (size - 1) / 2.0
    coords = torch.arange(size, dtype=sigma_x.dtype, device=sigma_x.device) - half
    y, x = torch.meshgrid(coords, coords, indexing="ij")            # (k, k): rows = y, cols = x
    dx = x - shift_x[:, None, None]                                 # (B, k, k)
    dy = y - shift_y[:, None, None]
    cos = torch.cos(theta)[:, None, None]
    sin = torch.sin(theta)[:, None, None]
    sx = sigma_x[:, None, None]
    sy = sigma_y[:, None, None]
    tu = (dx * cos + dy * sin) / sx                                 # u / sigma_x
    tv = (dy * cos - dx * sin) / sy                                 # v / sigma_y
    gauss = torch.exp(-0.5 * (tu * tu + tv * tv)) / (2.0 * math.pi * sx * sy)
    he_u = hermite_polynomials(tu, order)
    he_v = hermite_polynomials(tv, order)
    # (-1/sigma)^n He_n(t) for both axes
    fac_u = [he_u[n] * (-1.0 / sx) ** n for n in range(order + 1)]
    fac_v = [he_v[n] * (-1.0 / sy) ** n for n in range(order + 1)]
    kernels = [fac_u[i] * fac_v[j] * gauss for i, j in derivative_orders(order)]
    return torch.stack(kernels, dim=1)


def gaussian_derivative_kernels(sigma_x, sigma_y, theta, shift_x, shift_y,
                                order: int, size: int) -> torch.Tensor:
    """Sampled anisotropic, oriented, shifted Gaussians and all their derivatives up to ``order``.

    For each basis ``b``, the Gaussian of unit integral with standard deviations
    ``sigma_x[b], sigma_y[b]`` along the axes ``u, v`` rotated by ``theta[b]`` (radians, from the
    ``x`` axis towards the ``y`` axis) and centred at ``(shift_x[b], shift_y[b])`` (pixels), and
    its partial derivatives ``d^(i+j)/du^i dv^j`` for ``i + j <= order`` in closed form with
    Hermite polynomials (see the module docstring for coordinates and normalisation).

    Args:
        sigma_x: scale along ``u``, ``> 0``; tensor ``(B,)`` or a number.
        sigma_y: scale along ``v``, ``> 0``; tensor ``(B,)`` or a number.
        theta: orientation of ``u`` in radians; tensor ``(B,)`` or a number.
        shift_x: centre along the width, in pixels from the centre tap; ``(B,)`` or a number.
        shift_y: centre along the height, in pixels from the centre tap; ``(B,)`` or a number.
        order: the largest total derivative order (``>= 0``).
        size: the odd kernel size ``k``.

    Returns:
        The kernels, differentiable w.r.t. all five parameters, in their (promoted) dtype;
        channel ``d`` holds :func:`derivative_orders` ``(order)[d]``.

    Shape:
        ``(B,) x 5 -> (B, (order + 1)(order + 2) / 2, size, size)``

    Example:
        >>> k = gaussian_derivative_kernels(torch.tensor([1.0]), torch.tensor([1.5]),
        ...                                 torch.tensor([0.3]), 0.0, 0.0, order=2, size=15)
        >>> tuple(k.shape)
        (1, 6, 15, 15)
        >>> round(k[0, 0].sum().item(), 3)
        1.0
    """
    order = _check_int("order", order, 0)
    size = _check_odd_size("size", size)
    params = _basis_params(sigma_x, sigma_y, theta, shift_x, shift_y)
    return _kernels(*params, order=order, size=size)


# ----------------------------------------------------------------------------------- module --

class GaussianDerivativeConv(nn.Module):
    """Convolution whose kernels are learned combinations of Gaussian-derivative bases.

    Each of the ``n_bases`` bases has learnable scales ``sigma_x, sigma_y`` (stored as their
    logarithms, so they stay positive), orientation ``theta`` and centre ``shift``; a basis holds
    the Gaussian and its derivatives up to ``order`` (:func:`gaussian_derivative_kernels`).
    The plain form mixes all basis kernels per (output, input) pair; the separated form is a
    depthwise stage of basis combinations followed by a 1x1 conv (see the module docstring).
    The output keeps the input's size ('same' zero padding, stride 1).

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        order: largest derivative order of the bases (``>= 0``).
        n_bases: number of bases ``B`` (each with its own sigma, theta, shift).
        kernel_size: odd window size ``k``; default ``2 * ceil(3 * init_sigma) + 1``. Fixed at
            construction: learning a larger sigma later does not grow the window.
        init_sigma: initial ``sigma_x = sigma_y`` of every basis (pixels).
        learn_theta: learn the orientations; otherwise they stay at their initial values
            ``theta_b = pi * b / n_bases`` (a buffer).
        learn_shift: learn the centres; otherwise they stay at 0 (a buffer).
        separated: use the depthwise + 1x1 combination instead of the plain one.
        bias: add a learnable bias per output channel.
        depth_multiplier: intermediate maps per input channel in the separated form (``M``).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H, W)``

    Example:
        >>> layer = GaussianDerivativeConv(3, 8, order=2, n_bases=2)
        >>> layer.receptive_field
        7
        >>> tuple(layer(torch.rand(1, 3, 16, 16)).shape)
        (1, 8, 16, 16)
        >>> tuple(layer.weight().shape)
        (8, 3, 7, 7)
    """

    def __init__(self, in_channels: int, out_channels: int, order: int = 2, n_bases: int = 1,
                 kernel_size: int | None = None, init_sigma: float = 1.0,
                 learn_theta: bool = True, learn_shift: bool = True, separated: bool = False,
                 bias: bool = True, depth_multiplier: int = 1) -> None:
        super().__init__()
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.out_channels = _check_int("out_channels", out_channels, 1)
        self.order = _check_int("order", order, 0)
        self.n_bases = _check_int("n_bases", n_bases, 1)
        self.depth_multiplier = _check_int("depth_multiplier", depth_multiplier, 1)
        init_sigma = _check_positive("init_sigma", init_sigma)
        if kernel_size is None:
            kernel_size = 2 * math.ceil(3.0 * init_sigma) + 1
        self.kernel_size = _check_odd_size("kernel_size", kernel_size)
        for name, flag in (("learn_theta", learn_theta), ("learn_shift", learn_shift),
                           ("separated", separated), ("bias", bias)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be a bool, got {flag!r}")
        self.separated = separated
        self.n_derivs = num_derivatives(self.order)

        b = self.n_bases
        log_sigma = torch.full((b,), math.log(init_sigma))
        self.log_sigma_x = nn.Parameter(log_sigma.clone())
        self.log_sigma_y = nn.Parameter(log_sigma.clone())
        theta = torch.arange(b, dtype=torch.float32) * (math.pi / b)
        if learn_theta:
            self.theta = nn.Parameter(theta)
        else:
            self.register_buffer("theta", theta)
        shift = torch.zeros(b, 2)                                   # (shift_x, shift_y)
        if learn_shift:
            self.shift = nn.Parameter(shift)
        else:
            self.register_buffer("shift", shift)

        c_in, c_out, m, d = self.in_channels, self.out_channels, self.depth_multiplier, self.n_derivs
        if separated:
            self.coeffs = nn.Parameter(torch.empty(c_in, m, b, d))      # beta[i, m, b, d]
            self.pointwise = nn.Parameter(torch.empty(c_out, c_in * m))  # P[o, i*M + m]
        else:
            self.coeffs = nn.Parameter(torch.empty(c_out, c_in, b, d))  # alpha[o, i, b, d]
            self.register_parameter("pointwise", None)
        self.bias = nn.Parameter(torch.empty(c_out)) if bias else None
        self.reset_parameters()

    # -- parameters ------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Initialise the coefficients so each output has about unit variance for white input.

        Every basis term is weighted by ``1 / ||basis[b, d]||`` times a normal draw of standard
        deviation ``1 / sqrt(fan_in)``, so all derivative orders start on an equal footing.
        """
        with torch.no_grad():
            norms = self.basis().flatten(2).norm(dim=2).clamp_min(1e-12)   # (B, D)
            n_terms = self.n_bases * self.n_derivs
            if self.separated:
                nn.init.normal_(self.coeffs, std=1.0 / math.sqrt(n_terms))
                self.coeffs.div_(norms)
                fan_in = self.in_channels * self.depth_multiplier
                nn.init.normal_(self.pointwise, std=1.0 / math.sqrt(fan_in))
            else:
                nn.init.normal_(self.coeffs, std=1.0 / math.sqrt(self.in_channels * n_terms))
                self.coeffs.div_(norms)
            if self.bias is not None:
                self.bias.zero_()

    @property
    def sigma(self) -> torch.Tensor:
        """Current scales, ``(B, 2)`` holding ``(sigma_x, sigma_y)`` per basis."""
        return torch.stack([self.log_sigma_x.exp(), self.log_sigma_y.exp()], dim=1)

    @property
    def receptive_field(self) -> int:
        """Side of the square input window one output pixel depends on (``kernel_size``)."""
        return self.kernel_size

    def basis(self) -> torch.Tensor:
        """The current basis kernels.

        Returns:
            ``(B, n_derivs, k, k)`` sampled Gaussian derivatives, differentiable.
        """
        return _kernels(self.log_sigma_x.exp(), self.log_sigma_y.exp(), self.theta,
                        self.shift[:, 0], self.shift[:, 1], order=self.order,
                        size=self.kernel_size)

    def separated_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Depthwise and 1x1 weights of the separated form.

        Returns:
            ``(depthwise, pointwise)`` with shapes ``(C_in * M, 1, k, k)`` (for
            ``groups = C_in``) and ``(C_out, C_in * M, 1, 1)``.
        """
        if not self.separated:
            raise ValueError("separated_weights() needs separated=True, got separated=False")
        k = self.kernel_size
        depthwise = torch.einsum("imbd,bdyx->imyx", self.coeffs, self.basis())
        depthwise = depthwise.reshape(self.in_channels * self.depth_multiplier, 1, k, k)
        pointwise = self.pointwise[:, :, None, None]
        return depthwise, pointwise

    def weight(self) -> torch.Tensor:
        """The current folded dense weight (differentiable).

        For the separated form this is the dense equivalent of depthwise + 1x1,
        ``W[o, i] = sum_m P[o, i*M + m] D[i, m]``; ``forward`` still runs the two cheap stages.

        Returns:
            ``(C_out, C_in, k, k)``.
        """
        if self.separated:
            depthwise, pointwise = self.separated_weights()
            k, m = self.kernel_size, self.depth_multiplier
            d = depthwise.reshape(self.in_channels, m, k, k)
            p = pointwise.reshape(self.out_channels, self.in_channels, m)
            return torch.einsum("oim,imyx->oiyx", p, d)
        return torch.einsum("oibd,bdyx->oiyx", self.coeffs, self.basis())

    # -- forward and export ----------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` with the current kernels ('same' zero padding)."""
        _check_input(x, self.in_channels)
        pad = self.kernel_size // 2
        if self.separated:
            depthwise, pointwise = self.separated_weights()
            h = F.conv2d(x, depthwise.to(x.dtype), None, padding=pad, groups=self.in_channels)
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return F.conv2d(h, pointwise.to(x.dtype), bias)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.conv2d(x, self.weight().to(x.dtype), bias, padding=pad)

    def equivalent_conv(self) -> nn.Module:
        """Plain conv layers with the folded weights, for export.

        Returns:
            An ``nn.Conv2d(C_in, C_out, k, padding=k // 2)`` for the plain form, or an
            ``nn.Sequential`` of a depthwise ``nn.Conv2d(C_in, C_in * M, k, groups=C_in)`` and a
            1x1 ``nn.Conv2d(C_in * M, C_out, 1)`` for the separated form. The weights are
            detached copies in the parameters' dtype; the result computes the same function.
        """
        k, pad = self.kernel_size, self.kernel_size // 2
        has_bias = self.bias is not None
        dtype = self.coeffs.dtype
        with torch.no_grad():
            if self.separated:
                depthwise, pointwise = self.separated_weights()
                mid = self.in_channels * self.depth_multiplier
                dw = nn.Conv2d(self.in_channels, mid, k, padding=pad, groups=self.in_channels,
                               bias=False).to(dtype)
                pw = nn.Conv2d(mid, self.out_channels, 1, bias=has_bias).to(dtype)
                dw.weight.copy_(depthwise)
                pw.weight.copy_(pointwise)
                if has_bias:
                    pw.bias.copy_(self.bias)
                return nn.Sequential(dw, pw)
            conv = nn.Conv2d(self.in_channels, self.out_channels, k, padding=pad,
                             bias=has_bias).to(dtype)
            conv.weight.copy_(self.weight())
            if has_bias:
                conv.bias.copy_(self.bias)
            return conv

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, order={self.order}, "
             f"n_bases={self.n_bases}, kernel_size={self.kernel_size}")
        if self.separated:
            s += f", separated=True, depth_multiplier={self.depth_multiplier}"
        if self.bias is None:
            s += ", bias=False"
        return s
