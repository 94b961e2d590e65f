"""Tests for the Gaussian derivative convolution layer."""
import doctest
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from export.layers import gaussian_derivative as gd
from export.layers.gaussian_derivative import (
    GaussianDerivativeConv,
    derivative_orders,
    gaussian_derivative_kernels,
    num_derivatives,
)
from export.onnx.convert import onnx_max_abs_diff

# (sigma_x, sigma_y, theta, shift_x, shift_y): isotropic, anisotropic oriented, shifted
CASES = [
    (1.0, 1.0, 0.0, 0.0, 0.0),
    (1.3, 0.8, 0.4, 0.0, 0.0),
    (0.9, 1.6, -1.1, 0.7, -0.4),
    (2.0, 1.2, 2.5, -1.3, 0.9),
]


def _kernels64(params, order, size):
    sx, sy, th, mx, my = (torch.tensor([p], dtype=torch.float64) for p in params)
    return gaussian_derivative_kernels(sx, sy, th, mx, my, order=order, size=size)[0]


def _reference_gaussian(x, y, params):
    """The Gaussian of unit integral, written out independently of the module under test."""
    sx, sy, th, mx, my = params
    dx, dy = x - mx, y - my
    u = dx * math.cos(th) + dy * math.sin(th)
    v = -dx * math.sin(th) + dy * math.cos(th)
    return np.exp(-u ** 2 / (2 * sx ** 2) - v ** 2 / (2 * sy ** 2)) / (2 * math.pi * sx * sy)


def _grid(size):
    c = np.arange(size, dtype=np.float64) - (size - 1) / 2
    y, x = np.meshgrid(c, c, indexing="ij")
    return x, y


# ------------------------------------------------------------------------------- shapes --

def test_derivative_orders_and_count():
    assert derivative_orders(0) == [(0, 0)]
    assert derivative_orders(2) == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    for k in range(6):
        assert num_derivatives(k) == len(derivative_orders(k)) == (k + 1) * (k + 2) // 2


@pytest.mark.parametrize("order", [0, 1, 3])
def test_kernel_shapes_and_dtype(order):
    b = 3
    sig = torch.linspace(0.8, 1.5, b)
    k = gaussian_derivative_kernels(sig, sig * 1.2, torch.zeros(b), torch.zeros(b), 0.5,
                                    order=order, size=9)
    assert k.shape == (b, num_derivatives(order), 9, 9)
    assert k.dtype == torch.float32
    k64 = gaussian_derivative_kernels(torch.tensor([1.0], dtype=torch.float64), 1.0, 0.0, 0.0,
                                      0.0, order=order, size=5)
    assert k64.shape == (1, num_derivatives(order), 5, 5) and k64.dtype == torch.float64
    assert torch.isfinite(k).all()


@pytest.mark.parametrize("separated", [False, True])
@pytest.mark.parametrize("order,n_bases,mult", [(0, 1, 1), (2, 1, 1), (2, 3, 2), (3, 2, 1)])
def test_module_output_shape(separated, order, n_bases, mult):
    layer = GaussianDerivativeConv(3, 5, order=order, n_bases=n_bases, kernel_size=5,
                                   separated=separated, depth_multiplier=mult)
    x = torch.randn(2, 3, 11, 8)
    y = layer(x)
    assert y.shape == (2, 5, 11, 8)
    assert layer.weight().shape == (5, 3, 5, 5)
    assert layer.basis().shape == (n_bases, num_derivatives(order), 5, 5)
    assert layer.sigma.shape == (n_bases, 2)
    assert layer.receptive_field == 5
    y.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_default_kernel_size_from_sigma():
    assert GaussianDerivativeConv(1, 1).kernel_size == 7                   # sigma 1 -> 2*3+1
    assert GaussianDerivativeConv(1, 1, init_sigma=0.5).kernel_size == 5   # 2*ceil(1.5)+1
    assert GaussianDerivativeConv(1, 1, init_sigma=1.5).kernel_size == 11  # 2*ceil(4.5)+1
    assert GaussianDerivativeConv(1, 1, kernel_size=3, init_sigma=2.0).receptive_field == 3


def test_parameter_counts_and_learn_flags():
    plain = GaussianDerivativeConv(4, 6, order=2, n_bases=2, bias=True)
    names = {n for n, _ in plain.named_parameters()}
    assert names == {"log_sigma_x", "log_sigma_y", "theta", "shift", "coeffs", "bias"}
    assert plain.coeffs.shape == (6, 4, 2, 6)
    frozen = GaussianDerivativeConv(4, 6, n_bases=2, learn_theta=False, learn_shift=False,
                                    bias=False)
    names = {n for n, _ in frozen.named_parameters()}
    assert names == {"log_sigma_x", "log_sigma_y", "coeffs"}
    assert {n for n, _ in frozen.named_buffers()} == {"theta", "shift"}
    assert torch.allclose(frozen.theta, torch.tensor([0.0, math.pi / 2]))
    sep = GaussianDerivativeConv(4, 6, order=2, n_bases=2, separated=True, depth_multiplier=2)
    assert sep.coeffs.shape == (4, 2, 2, 6) and sep.pointwise.shape == (6, 8)
    dw, pw = sep.separated_weights()
    assert dw.shape == (8, 1, 7, 7) and pw.shape == (6, 8, 1, 1)


def test_bad_arguments_raise():
    one = torch.ones(1)
    with pytest.raises(ValueError, match="order"):
        gaussian_derivative_kernels(one, one, 0.0, 0.0, 0.0, order=-1, size=5)
    with pytest.raises(ValueError, match="odd"):
        gaussian_derivative_kernels(one, one, 0.0, 0.0, 0.0, order=1, size=4)
    with pytest.raises(ValueError, match="sigma_x"):
        gaussian_derivative_kernels(-one, one, 0.0, 0.0, 0.0, order=1, size=5)
    with pytest.raises(ValueError, match="sigma_y"):
        gaussian_derivative_kernels(one, 0 * one, 0.0, 0.0, 0.0, order=1, size=5)
    with pytest.raises(ValueError, match="one shape"):
        gaussian_derivative_kernels(torch.ones(2), torch.ones(3), 0.0, 0.0, 0.0, order=1, size=5)
    with pytest.raises(ValueError, match="shape"):
        gaussian_derivative_kernels(torch.ones(2, 2), 1.0, 0.0, 0.0, 0.0, order=1, size=5)
    with pytest.raises(TypeError, match="theta"):
        gaussian_derivative_kernels(one, one, "0", 0.0, 0.0, order=1, size=5)
    with pytest.raises(ValueError, match="order"):
        GaussianDerivativeConv(1, 1, order=-1)
    with pytest.raises(ValueError, match="order"):
        GaussianDerivativeConv(1, 1, order=1.5)
    with pytest.raises(ValueError, match="kernel_size"):
        GaussianDerivativeConv(1, 1, kernel_size=4)
    with pytest.raises(ValueError, match="n_bases"):
        GaussianDerivativeConv(1, 1, n_bases=0)
    with pytest.raises(ValueError, match="in_channels"):
        GaussianDerivativeConv(0, 1)
    with pytest.raises(ValueError, match="init_sigma"):
        GaussianDerivativeConv(1, 1, init_sigma=0.0)
    with pytest.raises(ValueError, match="depth_multiplier"):
        GaussianDerivativeConv(1, 1, separated=True, depth_multiplier=0)
    layer = GaussianDerivativeConv(2, 1, kernel_size=3)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        layer(torch.zeros(1, 3, 8, 8))
    with pytest.raises(TypeError):
        layer(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="separated=True"):
        layer.separated_weights()


# ----------------------------------------------------------------------- correctness --

@pytest.mark.parametrize("params", CASES)
def test_closed_form_matches_finite_differences(params):
    """Hermite closed form vs central differences of an independent Gaussian, orders 1 and 2."""
    size = 11
    x, y = _grid(size)
    th = params[2]
    eu = np.array([math.cos(th), math.sin(th)])     # direction of u in (x, y)
    ev = np.array([-math.sin(th), math.cos(th)])    # direction of v in (x, y)

    def g(a=0.0, b=0.0, h=0.0):
        """Gaussian at every grid point moved by h * (a e_u + b e_v)."""
        d = h * (a * eu + b * ev)
        return _reference_gaussian(x + d[0], y + d[1], params)

    h1, h2 = 1e-4, 1e-3
    fd = {
        (0, 0): g(),
        (1, 0): (g(1, 0, h1) - g(-1, 0, h1)) / (2 * h1),
        (0, 1): (g(0, 1, h1) - g(0, -1, h1)) / (2 * h1),
        (2, 0): (g(1, 0, h2) - 2 * g() + g(-1, 0, h2)) / h2 ** 2,
        (0, 2): (g(0, 1, h2) - 2 * g() + g(0, -1, h2)) / h2 ** 2,
        (1, 1): (g(1, 1, h2) - g(1, -1, h2) - g(-1, 1, h2) + g(-1, -1, h2)) / (4 * h2 ** 2),
    }
    k = _kernels64(params, order=2, size=size).numpy()
    for d, ij in enumerate(derivative_orders(2)):
        scale = np.abs(fd[ij]).max()
        err = np.abs(k[d] - fd[ij]).max()
        assert err <= 1e-6 * scale, f"derivative {ij}: max error {err:.3g} (peak {scale:.3g})"


@pytest.mark.parametrize("params", CASES[1:])
def test_each_order_is_the_derivative_of_the_previous(params):
    """Up to order 4: d/du and d/dv of the closed form (by moving the centre) give the next order."""
    order, size, h = 4, 13, 1e-5
    sx, sy, th, mx, my = params
    eu = (math.cos(th), math.sin(th))
    ev = (-math.sin(th), math.cos(th))
    k = _kernels64(params, order, size)
    index = {ij: d for d, ij in enumerate(derivative_orders(order))}

    def moved(e, s):
        # a centre moved by -s*e samples the same function at p + s*e
        return _kernels64((sx, sy, th, mx - s * e[0], my - s * e[1]), order, size)

    du = (moved(eu, h) - moved(eu, -h)) / (2 * h)
    dv = (moved(ev, h) - moved(ev, -h)) / (2 * h)
    for (i, j), d in index.items():
        if i + j == order:
            continue
        for deriv, nxt in ((du, (i + 1, j)), (dv, (i, j + 1))):
            want = k[index[nxt]]
            err = (deriv[d] - want).abs().max().item()
            assert err <= 1e-7 * want.abs().max().item() + 1e-12, f"{(i, j)} -> {nxt}: {err:.3g}"


@pytest.mark.parametrize("params", [(1.0, 1.0, 0.0, 0.0, 0.0), (1.2, 0.8, 0.3, 0.0, 0.0),
                                    (0.9, 1.4, -2.0, 1.5, -0.5)])
def test_order0_sums_to_one_and_is_centred_at_the_shift(params):
    size = 21
    k = _kernels64(params, order=0, size=size)[0]
    assert abs(k.sum().item() - 1.0) < 1e-5
    c = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    assert abs((k.sum(0) * c).sum().item() - params[3]) < 1e-5   # centroid along x
    assert abs((k.sum(1) * c).sum().item() - params[4]) < 1e-5   # centroid along y
    # reference sample values, not only moments
    x, y = _grid(size)
    np.testing.assert_allclose(k.numpy(), _reference_gaussian(x, y, params), rtol=0, atol=1e-14)


def test_rotation_by_right_angle_swaps_u_and_v():
    """At theta = pi/2, u = y and v = -x: the (i, j) kernel equals (-1)^j times the (j, i)
    kernel of the unrotated Gaussian with the scales swapped, i.e. the 90-degree rotated grid."""
    a, b, order, size = 1.4, 0.7, 3, 11
    rotated = _kernels64((a, b, math.pi / 2, 0.0, 0.0), order, size)
    upright = _kernels64((b, a, 0.0, 0.0, 0.0), order, size)
    index = {ij: d for d, ij in enumerate(derivative_orders(order))}
    for (i, j), d in index.items():
        torch.testing.assert_close(rotated[d], (-1) ** j * upright[index[(j, i)]],
                                   rtol=0, atol=1e-12)
    # and the order-0 kernel is the axis-aligned one turned by 90 degrees on the grid
    unrotated = _kernels64((a, b, 0.0, 0.0, 0.0), 0, size)[0]
    torch.testing.assert_close(rotated[0], torch.rot90(unrotated, 1, dims=(0, 1)),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("theta", [0.3, 1.0, 2.2, -0.7])
def test_steerability_of_isotropic_derivatives(theta):
    """d/du at angle theta = cos(theta) d/dx + sin(theta) d/dy of the unrotated isotropic basis
    (and the second-order steering of eq. 22 in the thesis, in this sign convention)."""
    s, size = 1.3, 11
    rot = _kernels64((s, s, theta, 0.4, -0.2), 2, size)
    base = _kernels64((s, s, 0.0, 0.4, -0.2), 2, size)   # at theta = 0, (u, v) = (x, y)
    c, sn = math.cos(theta), math.sin(theta)
    gx, gy, gxx, gxy, gyy = base[1], base[2], base[3], base[4], base[5]
    torch.testing.assert_close(rot[1], c * gx + sn * gy, rtol=0, atol=1e-12)
    torch.testing.assert_close(rot[2], -sn * gx + c * gy, rtol=0, atol=1e-12)
    torch.testing.assert_close(rot[3], c * c * gxx + 2 * c * sn * gxy + sn * sn * gyy,
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(rot[0], base[0], rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- gradients --

def test_gradcheck_kernels():
    b = 2
    args = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in
            ([0.9, 1.3], [1.2, 0.8], [0.3, -1.0], [0.2, -0.4], [0.0, 0.5])]
    assert torch.autograd.gradcheck(
        lambda *p: gaussian_derivative_kernels(*p, order=2, size=5), args)
    assert args[0].shape == (b,)


@pytest.mark.parametrize("separated", [False, True])
def test_gradcheck_module(separated):
    layer = GaussianDerivativeConv(2, 2, order=2, n_bases=2, kernel_size=3, separated=separated,
                                   depth_multiplier=2).double()
    with torch.no_grad():   # move away from the symmetric initial state
        layer.log_sigma_x.add_(torch.tensor([0.1, -0.2], dtype=torch.float64))
        layer.shift.add_(torch.tensor([[0.2, -0.1], [0.0, 0.3]], dtype=torch.float64))
        layer.bias.normal_()
    names = [n for n, _ in layer.named_parameters()]
    assert {"log_sigma_x", "log_sigma_y", "theta", "shift", "coeffs", "bias"} <= set(names)
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


# -------------------------------------------------------------------------------- export --

def _trained_looking(layer):
    """Perturb every learnable quantity so folding and export see a generic layer."""
    with torch.no_grad():
        layer.log_sigma_x.add_(0.2 * torch.randn_like(layer.log_sigma_x))
        layer.log_sigma_y.add_(0.2 * torch.randn_like(layer.log_sigma_y))
        layer.theta.add_(torch.randn_like(layer.theta))
        layer.shift.add_(0.5 * torch.randn_like(layer.shift))
        if layer.bias is not None:
            layer.bias.normal_()
    return layer


@pytest.mark.parametrize("separated,bias", [(False, True), (True, True), (False, False),
                                            (True, False)])
def test_equivalent_conv_matches_module(separated, bias):
    layer = _trained_looking(GaussianDerivativeConv(3, 4, order=2, n_bases=2, separated=separated,
                                                    bias=bias, depth_multiplier=2))
    conv = layer.equivalent_conv()
    if separated:
        assert isinstance(conv, torch.nn.Sequential)
        assert conv[0].groups == 3 and conv[0].weight.shape == (6, 1, 7, 7)
        assert conv[1].kernel_size == (1, 1)
    else:
        assert isinstance(conv, torch.nn.Conv2d) and conv.weight.shape == (4, 3, 7, 7)
    assert not any(p.requires_grad and p.grad_fn is not None for p in conv.parameters())
    x = torch.randn(2, 3, 17, 13)
    with torch.no_grad():
        want = layer(x)
        assert (conv(x) - want).abs().max().item() < 1e-5
        # the dense folded weight reproduces both forms
        dense = F.conv2d(x, layer.weight(), layer.bias, padding=layer.kernel_size // 2)
        assert (dense - want).abs().max().item() < 1e-5


def test_forward_is_the_sum_of_basis_responses():
    """Plain form = sum over (b, d) of alpha * (basis correlation) -- eq. 2/3 written out."""
    layer = _trained_looking(GaussianDerivativeConv(2, 3, order=1, n_bases=2, kernel_size=5,
                                                    bias=False)).double()
    x = torch.randn(1, 2, 9, 9, dtype=torch.float64)
    basis = layer.basis().reshape(-1, 1, 5, 5)                    # (B*D, 1, k, k)
    resp = F.conv2d(x.reshape(2, 1, 9, 9), basis, padding=2)      # (C_in, B*D, H, W)
    alpha = layer.coeffs.reshape(3, 2, -1)                        # (C_out, C_in, B*D)
    want = torch.einsum("oin,inyx->oyx", alpha, resp)[None]
    torch.testing.assert_close(layer(x), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("separated", [False, True])
def test_onnx_matches_torch(separated):
    layer = _trained_looking(GaussianDerivativeConv(3, 4, order=2, n_bases=2, separated=separated))
    example = torch.rand(1, 3, 16, 16)
    other = torch.rand(2, 3, 23, 19)
    assert onnx_max_abs_diff(layer, example) < 1e-4
    assert onnx_max_abs_diff(layer, example, other) < 1e-4
    assert onnx_max_abs_diff(layer.equivalent_conv(), example, other) < 1e-4


def test_docstring_examples():
    result = doctest.testmod(gd, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
