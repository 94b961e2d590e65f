"""Tests for the Gaussian envelope and the disentangled convolution (export/layers/envelope.py)."""
import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="layer tests need the 'train' extra")
pytest.importorskip("onnx", reason="export tests need the 'train' extra")
pytest.importorskip("onnxruntime", reason="export tests need onnxruntime")

import onnx  # noqa: E402

from export.layers import envelope as envelope_module  # noqa: E402
from export.layers.envelope import (  # noqa: E402
    DisentangledConv,
    GaussianEnvelope,
    gaussian_envelope,
    gaussian_taps,
)
from export.onnx.convert import onnx_max_abs_diff, to_onnx_bytes  # noqa: E402

ORDERS = ["envelope_first", "conv_first"]


# ------------------------------------------------------------------------- numpy references --

def _np_taps(sigma_raw: np.ndarray, radius: int) -> np.ndarray:
    """Eq. 9 directly: sigma^2 = softplus(raw), exp(-t^2 / 2 sigma^2), normalised per channel."""
    var = np.log1p(np.exp(sigma_raw))[:, None]
    t = np.arange(-radius, radius + 1, dtype=np.float64)[None, :]
    g = np.exp(-t * t / (2.0 * var))
    return g / g.sum(axis=1, keepdims=True)


def _np_conv2d_same(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Naive per-channel 2-D correlation, zero 'same' padding; x (N, C, H, W), kernels (C, k, k)."""
    n, c, h, w = x.shape
    r = kernels.shape[-1] // 2
    padded = np.zeros((n, c, h + 2 * r, w + 2 * r))
    padded[:, :, r:r + h, r:r + w] = x
    out = np.zeros((n, c, h, w))
    for ch in range(c):
        for i in range(h):
            for j in range(w):
                patch = padded[:, ch, i:i + 2 * r + 1, j:j + 2 * r + 1]
                out[:, ch, i, j] = (patch * kernels[ch]).sum(axis=(1, 2))
    return out


def _set_sigma(module, sigma):
    """Set every channel's sigma of a GaussianEnvelope (sigma a float or a sequence)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(module.channels)
    var = sigma * sigma
    with torch.no_grad():
        module.sigma_raw.copy_(var + torch.log(-torch.expm1(-var)))
    return module


# ---------------------------------------------------------------------------------- shapes --

def test_gaussian_taps_shape_and_dtype():
    taps = gaussian_taps(torch.zeros(5, dtype=torch.float64), radius=4)
    assert taps.shape == (5, 9)
    assert taps.dtype == torch.float64
    assert gaussian_taps(torch.zeros(2), radius=0).shape == (2, 1)


@pytest.mark.parametrize("radius", [0, 1, 4])
def test_envelope_shape_and_properties(radius):
    env = GaussianEnvelope(3, radius=radius, init_sigma=0.7)
    x = torch.rand(2, 3, 7, 5)
    assert env(x).shape == x.shape
    assert env.receptive_field == 2 * radius + 1
    assert env.sigma.shape == (3,)
    assert torch.allclose(env.sigma, torch.full((3,), 0.7), atol=1e-6)
    assert env.taps().shape == (3, 2 * radius + 1)


@pytest.mark.parametrize("order", ORDERS)
def test_disentangled_shape_and_properties(order):
    layer = DisentangledConv(3, 6, kernel_size=3, radius=4, order=order)
    assert layer(torch.rand(2, 3, 9, 4)).shape == (2, 6, 9, 4)
    assert layer.receptive_field == 3 + 2 * 4
    assert layer.envelope.channels == (3 if order == "envelope_first" else 6)
    assert layer.mass_kept(1).shape == (layer.envelope.channels,)
    pointwise = DisentangledConv(2, 2, kernel_size=1, radius=0, bias=False)
    assert pointwise(torch.rand(1, 2, 3, 3)).shape == (1, 2, 3, 3)


def test_docstring_examples():
    result = doctest.testmod(envelope_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ------------------------------------------------------------------------------ bad inputs --

@pytest.mark.parametrize("radius", [-1, 1.0, 1.5, "2", None, True])
def test_bad_radius_raises(radius):
    with pytest.raises(ValueError, match="radius"):
        GaussianEnvelope(2, radius=radius)
    with pytest.raises(ValueError, match="radius"):
        gaussian_taps(torch.zeros(2), radius)
    with pytest.raises(ValueError, match="radius"):
        DisentangledConv(2, 3, radius=radius)


@pytest.mark.parametrize("channels", [0, -3, 2.0])
def test_bad_channels_raise(channels):
    with pytest.raises(ValueError, match="channels"):
        GaussianEnvelope(channels)
    with pytest.raises(ValueError, match="in_channels"):
        DisentangledConv(channels, 3)
    with pytest.raises(ValueError, match="out_channels"):
        DisentangledConv(3, channels)


def test_other_bad_arguments_raise():
    with pytest.raises(ValueError, match="order"):
        DisentangledConv(2, 3, order="env_first")
    with pytest.raises(ValueError, match="kernel_size"):
        DisentangledConv(2, 3, kernel_size=2)
    with pytest.raises(ValueError, match="kernel_size"):
        DisentangledConv(2, 3, kernel_size=0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="init_sigma"):
            GaussianEnvelope(2, init_sigma=bad)
    with pytest.raises(ValueError, match="sigma_raw"):
        gaussian_taps(torch.zeros(2, 3), 1)
    with pytest.raises(TypeError, match="floating"):
        gaussian_taps(torch.zeros(2, dtype=torch.int64), 1)


def test_bad_input_and_shrink_radius_raise():
    env = GaussianEnvelope(3, radius=2)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        env(torch.rand(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        env(torch.rand(3, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        DisentangledConv(2, 3, order="conv_first")(torch.rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match="radius"):
        env.shrink(3)
    with pytest.raises(ValueError, match="radius"):
        env.mass_kept(-1)
    with pytest.raises(ValueError, match="radius"):
        DisentangledConv(2, 3, radius=1).shrink(2)


# --------------------------------------------------------------------------------- reference --

@pytest.mark.parametrize("radius", [0, 1, 4])
def test_taps_match_eq9_in_numpy(radius):
    raw = np.array([-3.0, -0.5, 0.0, 0.54, 2.0, 6.0])
    got = gaussian_taps(torch.tensor(raw), radius).numpy()
    np.testing.assert_allclose(got, _np_taps(raw, radius), rtol=0, atol=1e-12)


@pytest.mark.parametrize("radius", [1, 3])
def test_output_matches_naive_2d_convolution(radius):
    raw = np.array([-1.0, 0.3, 2.5])
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 7))
    env = GaussianEnvelope(3, radius=radius).double()
    with torch.no_grad():
        env.sigma_raw.copy_(torch.tensor(raw))
        got = env(torch.tensor(x)).numpy()
        functional = gaussian_envelope(torch.tensor(x), torch.tensor(raw), radius).numpy()
    g = _np_taps(raw, radius)
    kernels = g[:, :, None] * g[:, None, :]                       # outer product, (C, k, k)
    expected = _np_conv2d_same(x, kernels)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(functional, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("order", ORDERS)
def test_disentangled_matches_composition(order):
    layer = DisentangledConv(2, 3, radius=2, order=order).double()
    x = torch.rand(1, 2, 6, 5, dtype=torch.float64)
    if order == "envelope_first":
        expected = layer.conv(layer.envelope(x))
    else:
        expected = layer.envelope(layer.conv(x))
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)


def test_taps_sum_to_one():
    raw = torch.linspace(-8.0, 8.0, 17, dtype=torch.float64)
    for radius in (0, 1, 4, 7):
        sums = gaussian_taps(raw, radius).sum(dim=1)
        torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0, atol=1e-12)


def test_large_sigma_is_box_and_small_sigma_is_delta():
    box = gaussian_taps(torch.tensor([1e6], dtype=torch.float64), 4)
    torch.testing.assert_close(box, torch.full((1, 9), 1 / 9, dtype=torch.float64),
                               rtol=0, atol=1e-5)
    delta = gaussian_taps(torch.tensor([-20.0], dtype=torch.float64), 4)
    expected = torch.zeros(1, 9, dtype=torch.float64)
    expected[0, 4] = 1.0
    torch.testing.assert_close(delta, expected, rtol=0, atol=1e-12)
    # an envelope that is a delta leaves the input unchanged
    env = _set_sigma(GaussianEnvelope(2, radius=4).double(), 0.05)
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(env(x), x, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ shrink --

def test_shrunk_taps_are_renormalised_centre():
    env = _set_sigma(GaussianEnvelope(4, radius=4).double(), [0.4, 0.8, 1.5, 3.0])
    small = env.shrink(1)
    assert small.radius == 1 and small.receptive_field == 3
    assert small is not env and small.sigma_raw is not env.sigma_raw
    torch.testing.assert_close(small.sigma, env.sigma, rtol=0, atol=0)
    sigma = np.array([0.4, 0.8, 1.5, 3.0])
    t = np.arange(-1, 2)
    g = np.exp(-t[None, :] ** 2 / (2 * sigma[:, None] ** 2))
    expected = g / g.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(small.taps().detach().numpy(), expected, rtol=0, atol=1e-12)
    # the same as the centre of the 9 trained taps, renormalised
    full = env.taps().detach()
    centre = full[:, 3:6] / full[:, 3:6].sum(dim=1, keepdim=True)
    torch.testing.assert_close(small.taps().detach(), centre, rtol=0, atol=1e-12)


def test_shrink_is_independent_and_keeps_mode_dtype():
    env = GaussianEnvelope(2, radius=4).double().eval()
    small = env.shrink(1)
    assert small.sigma_raw.dtype == torch.float64 and not small.training
    with torch.no_grad():
        small.sigma_raw.add_(1.0)
    assert not torch.equal(small.sigma_raw, env.sigma_raw)
    assert env.shrink(4).receptive_field == 9 and env.shrink(0).receptive_field == 1


def test_mass_kept_in_unit_interval_and_decreasing_with_sigma():
    sigmas = torch.linspace(0.5, 5.0, 10, dtype=torch.float64)
    env = _set_sigma(GaussianEnvelope(10, radius=4).double(), sigmas)
    kept = env.mass_kept(1).detach()
    assert kept.shape == (10,)
    assert bool(((kept > 0) & (kept <= 1)).all())
    assert bool((kept[1:] < kept[:-1]).all())
    # the 2-D share is the square of the 1-D share of the centre taps
    taps = env.taps().detach()
    torch.testing.assert_close(kept, taps[:, 3:6].sum(dim=1) ** 2, rtol=0, atol=1e-12)
    torch.testing.assert_close(env.mass_kept(4).detach(), torch.ones(10, dtype=torch.float64))
    # a tiny sigma keeps (essentially) everything
    assert float(_set_sigma(GaussianEnvelope(1, radius=4), 0.2).mass_kept(1)) > 1 - 1e-6


def test_shrunk_output_matches_full_for_small_sigma():
    env = _set_sigma(GaussianEnvelope(3, radius=4).double(), [0.2, 0.3, 0.35])
    x = torch.rand(2, 3, 8, 7, dtype=torch.float64)
    torch.testing.assert_close(env.shrink(1)(x), env(x), rtol=0, atol=1e-6)
    for order in ORDERS:
        layer = DisentangledConv(3, 4, radius=4, order=order).double()
        _set_sigma(layer.envelope, 0.3)
        small = layer.shrink(1)
        assert small.radius == 1 and small.receptive_field == 5 and layer.radius == 4
        assert small.conv is not layer.conv
        torch.testing.assert_close(small.conv.weight, layer.conv.weight, rtol=0, atol=0)
        torch.testing.assert_close(small(x), layer(x), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------- gradcheck --

def test_gradcheck_envelope():
    env = GaussianEnvelope(2, radius=2).double()
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    raw = torch.tensor([-0.7, 1.2], dtype=torch.float64, requires_grad=True)

    def fn(inp, sigma_raw):
        return torch.func.functional_call(env, {"sigma_raw": sigma_raw}, (inp,))

    assert torch.autograd.gradcheck(fn, (x, raw))
    assert torch.autograd.gradcheck(lambda inp, s: gaussian_envelope(inp, s, 1), (x, raw))


@pytest.mark.parametrize("order", ORDERS)
def test_gradcheck_disentangled(order):
    layer = DisentangledConv(2, 2, radius=2, order=order).double()
    x = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    raw = torch.tensor([0.3, -1.1], dtype=torch.float64, requires_grad=True)
    weight = layer.conv.weight.detach().clone().requires_grad_(True)

    def fn(inp, sigma_raw, w):
        params = {"envelope.sigma_raw": sigma_raw, "conv.weight": w}
        return torch.func.functional_call(layer, params, (inp,))

    assert torch.autograd.gradcheck(fn, (x, raw, weight))


# --------------------------------------------------------------------------------------- ONNX --

def _modules():
    torch.manual_seed(0)
    env = GaussianEnvelope(3, radius=4)
    with torch.no_grad():
        env.sigma_raw.copy_(torch.tensor([-1.0, 0.5, 2.0]))
    layers = {"envelope": env, "envelope_shrunk": env.shrink(1)}
    for order in ORDERS:
        layer = DisentangledConv(3, 5, radius=4, order=order)
        with torch.no_grad():
            layer.envelope.sigma_raw.uniform_(-1.5, 2.0)
        layers[order] = layer
        layers[order + "_shrunk"] = layer.shrink(1)
    return layers


@pytest.mark.parametrize("name", ["envelope", "envelope_shrunk", "envelope_first",
                                  "envelope_first_shrunk", "conv_first", "conv_first_shrunk"])
def test_onnx_parity(name):
    module = _modules()[name]
    example = torch.rand(1, 3, 12, 10)
    assert onnx_max_abs_diff(module, example) < 1e-4
    other = torch.rand(2, 3, 7, 15)                       # other batch, H and W than the trace
    assert onnx_max_abs_diff(module, example, check=other) < 1e-4


@pytest.mark.parametrize("name", ["envelope", "envelope_first_shrunk", "conv_first", "envelope_shrunk"])
def test_onnx_graph_is_plain_conv(name):
    module = _modules()[name]
    graph = onnx.load_from_string(to_onnx_bytes(module, torch.rand(1, 3, 8, 8))).graph
    ops = [node.op_type for node in graph.node]
    assert set(ops) <= {"Conv", "Constant"}, ops
    # two 1-D envelope passes (one depthwise 3x3 for a 3-tap envelope) + the k x k conv
    n_conv = (1 if name.endswith("_shrunk") else 2) + (1 if name.startswith(tuple(ORDERS)) else 0)
    assert ops.count("Conv") == n_conv
