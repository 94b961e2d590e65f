"""Tests for the dynamic steerable convolution against the steering equations (Jacobsen, eq. 25-27)."""
import doctest
import math

import pytest
import torch
import torch.nn.functional as F

from export.layers import steerable as steerable_module
from export.layers.gaussian_derivative import gaussian_derivative_kernels
from export.layers.steerable import DynamicSteerableConv, steering_matrix
from export.onnx.convert import onnx_max_abs_diff

ANGLES = [0.0, 0.3, -1.1, math.pi / 2, 2.5]


def _frame(sigma, theta, order, size):
    """The isotropic Gaussian-derivative frame turned by ``theta``, sampled in float64."""
    sigma, theta, zero = (torch.tensor([v], dtype=torch.float64) for v in (sigma, theta, 0.0))
    return gaussian_derivative_kernels(sigma, sigma, theta, zero, zero, order, size)[0]


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("theta", ANGLES)
def test_steered_frame_equals_the_frame_sampled_at_the_angle(order, theta):
    """Eq. 25: S(theta) Phi_0 = Phi_theta, with Phi_theta sampled directly from the rotated Gaussian."""
    frame0 = _frame(1.2, 0.0, order, 11)
    frame = _frame(1.2, theta, order, 11)
    s = steering_matrix(torch.tensor(theta, dtype=torch.float64), order)
    steered = torch.einsum("nm,mhw->nhw", s, frame0)
    assert torch.allclose(steered, frame, atol=1e-12)


def test_second_order_steering_written_out():
    """The second-order steering functions in closed form (cos/sin products)."""
    theta = torch.tensor(0.7, dtype=torch.float64)
    c, s = math.cos(0.7), math.sin(0.7)
    expected = torch.tensor([[c * c, 2 * c * s, s * s],
                             [-c * s, c * c - s * s, c * s],
                             [s * s, -2 * c * s, c * c]], dtype=torch.float64)
    got = steering_matrix(theta, 2)[3:, 3:]  # rows/cols (2,0), (1,1), (0,2)
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.count_nonzero(steering_matrix(theta, 2)[:3, 3:]) == 0  # orders never mix


@pytest.mark.parametrize("order", [1, 2, 3])
def test_per_pixel_steering_applies_the_steering_matrix_of_each_pixels_angle(order):
    """The term-by-term steering equals S(theta) Phi with S built entry by entry, at random angles."""
    torch.manual_seed(order)
    layer = DynamicSteerableConv(3, 2, order=order).double()
    phi = torch.randn(2, 3 * layer.derivs, 5, 7, dtype=torch.float64)
    theta = (torch.rand(2, 3, 5, 7, dtype=torch.float64) - 0.5) * 2 * math.pi
    s = steering_matrix(theta, order)  # (B, C, H, W, D, D)
    expected = torch.einsum("bchwnm,bcmhw->bcnhw", s, phi.view(2, 3, layer.derivs, 5, 7)).reshape(phi.shape)
    assert torch.allclose(layer.steer(phi, theta), expected, atol=1e-12)


def _constant_pose(layer: DynamicSteerableConv, theta: float) -> None:
    with torch.no_grad():
        for p in layer.pose.parameters():
            p.zero_()
        layer.pose[-1].bias.fill_(math.atanh(theta / math.pi))


@pytest.mark.parametrize("theta", [0.0, 0.4, -2.0])
def test_block_at_a_constant_pose_is_the_turned_canonical_filter(theta):
    """Eq. 27: at pose theta the block convolves with sum_n w_n phi_n(theta) (+ bias)."""
    torch.manual_seed(0)
    layer = DynamicSteerableConv(2, 3, order=2, sigma=1.0).double()
    _constant_pose(layer, theta)
    x = torch.rand(1, 2, 20, 20, dtype=torch.float64)
    frame = _frame(1.0, theta, 2, layer.size)
    mix = layer.mix.weight[:, :, 0, 0].reshape(3, 2, layer.derivs)
    kernel = torch.einsum("ocd,dhw->ochw", mix, frame)
    expected = F.conv2d(x, kernel, layer.mix.bias, padding=layer.size // 2)
    assert torch.allclose(layer(x), expected, atol=1e-6)  # the layer's frame is sampled in float32


def test_static_ablation_equals_the_dynamic_block_at_its_initial_pose():
    torch.manual_seed(0)
    dynamic = DynamicSteerableConv(3, 4)
    static = DynamicSteerableConv(3, 4, dynamic=False)
    static.mix.load_state_dict(dynamic.mix.state_dict())
    x = torch.rand(2, 3, 12, 12)
    assert torch.allclose(dynamic(x), static(x), atol=1e-6)  # the pose network starts at zero
    assert sum(p.numel() for p in static.parameters()) < sum(p.numel() for p in dynamic.parameters())


def test_pose_changes_the_output_per_pixel():
    torch.manual_seed(1)
    layer = DynamicSteerableConv(1, 2)
    torch.nn.init.normal_(layer.pose[-1].weight, std=0.5)
    x = torch.rand(1, 1, 16, 16)
    theta = layer.angles(layer.responses(x))
    assert theta.std() > 0.01 and theta.abs().max() <= math.pi
    static = DynamicSteerableConv(1, 2, dynamic=False)
    static.mix.load_state_dict(layer.mix.state_dict())
    assert not torch.allclose(layer(x), static(x), atol=1e-4)


def test_gradcheck():
    torch.manual_seed(0)
    layer = DynamicSteerableConv(1, 2, order=2, sigma=0.8, pose_channels=3).double()
    torch.nn.init.normal_(layer.pose[-1].weight, std=0.3)
    x = torch.rand(1, 1, 7, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    params = [p for p in layer.parameters()]
    assert torch.autograd.gradcheck(lambda *ps: torch.func.functional_call(
        layer, dict(zip([n for n, _ in layer.named_parameters()], ps)), (x.detach(),)), tuple(
        p.detach().clone().requires_grad_(True) for p in params))


@pytest.mark.parametrize("dynamic", [True, False])
def test_onnx_parity(dynamic):
    torch.manual_seed(0)
    layer = DynamicSteerableConv(2, 3, dynamic=dynamic).eval()
    if dynamic:
        torch.nn.init.normal_(layer.pose[-1].weight, std=0.3)
    assert onnx_max_abs_diff(layer, torch.rand(1, 2, 24, 32), torch.rand(2, 2, 17, 21)) < 1e-4


def test_wrong_input_channels_say_what_was_expected():
    with pytest.raises(ValueError, match=r"expected \(B, 2, H, W\), got \(1, 3, 8, 8\)"):
        DynamicSteerableConv(2, 3)(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="sigma"):
        DynamicSteerableConv(2, 3, sigma=0)


def test_doctests():
    result = doctest.testmod(steerable_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_integer_angles_give_a_float_steering_matrix():
    s = steering_matrix(torch.tensor([0, 1]), 1)
    assert s.dtype == torch.float32 and torch.allclose(s[0], torch.eye(3))
