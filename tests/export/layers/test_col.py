"""Tests of the co-occurrence layer (CoL)."""
import doctest

import pytest

torch = pytest.importorskip("torch", reason="layer tests need the 'train' extra")
pytest.importorskip("onnxruntime", reason="ONNX parity needs onnxruntime")

import torch.nn.functional as F  # noqa: E402

from export.layers import col as col_module  # noqa: E402
from export.layers.col import CoL, bin_index, col, robust_range  # noqa: E402
from export.onnx.convert import onnx_max_abs_diff  # noqa: E402


def _randomise(layer: CoL, scale: float = 0.5) -> CoL:
    """Random w and L (L far from all ones, so bins matter)."""
    with torch.no_grad():
        layer.weight.normal_(0.0, scale)
        layer.cooc.normal_(0.0, 1.0)
    return layer


def _naive(layer: CoL, x: torch.Tensor) -> torch.Tensor:
    """Eq. 7 as a double sum over output sites p and neighbours q (zero padding)."""
    n, c_count, h, w = x.shape
    k = layer.kernel_size
    r = k // 2
    bins = bin_index(x, layer.lo, layer.hi, layer.bins).long()
    L = layer.cooc.detach()
    wt = layer.weight.detach()
    out = torch.zeros_like(x)

    def taps(c):
        """(input channel, weight slice) pairs that feed output channel c."""
        if layer.depth == 1:
            return [(c, wt[c, 0])]
        if layer.depth == layer.channels:
            return [(src, wt[c, src]) for src in range(c_count)]
        return [(c + d - layer.depth // 2, wt[c, d]) for d in range(layer.depth)
                if 0 <= c + d - layer.depth // 2 < c_count]

    for b in range(n):
        for c in range(c_count):
            for i in range(h):
                for j in range(w):
                    bp = bins[b, c, i, j]
                    acc = 0.0
                    for src, ws in taps(c):
                        for di in range(-r, r + 1):
                            for dj in range(-r, r + 1):
                                qi, qj = i + di, j + dj
                                if 0 <= qi < h and 0 <= qj < w:
                                    # cross-correlation, as conv2d: w index (di + r, dj + r)
                                    acc += (ws[di + r, dj + r] * L[bp, bins[b, src, qi, qj]]
                                            * x[b, src, qi, qj]).item()
                    out[b, c, i, j] = acc
    return out


def test_doctests():
    result = doctest.testmod(col_module, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_shape_and_receptive_field(depth):
    layer = CoL(4, bins=5, kernel_size=3, depth=depth)
    y = layer(torch.rand(2, 4, 9, 11))
    assert y.shape == (2, 4, 9, 11)
    assert layer.receptive_field == 3
    assert layer.dense_weight().shape == ((4, 1, 3, 3) if depth == 1 else (4, 4, 3, 3))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=4), dict(kernel_size=0), dict(bins=0), dict(bins=-2),
    dict(value_range=(1.0, 1.0)), dict(value_range=(1.0, 0.0)), dict(value_range=(0.0,)),
    dict(value_range=(0.0, float("nan"))), dict(depth=0), dict(depth=5), dict(depth=2),
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        CoL(4, **kwargs)


def test_bad_input_raises():
    layer = CoL(3)
    with pytest.raises(ValueError):
        layer(torch.rand(1, 2, 5, 5))
    with pytest.raises(ValueError):
        layer(torch.rand(3, 5, 5))
    with pytest.raises(TypeError):
        layer(torch.zeros(1, 3, 5, 5, dtype=torch.long))
    with pytest.raises(TypeError):
        CoL(3, bins=2.5)
    with pytest.raises(ValueError):
        layer.calibrate(torch.full((1, 3, 4, 4), float("nan")))


def test_bin_index_rule():
    x = torch.tensor([-5.0, 0.0, 0.24, 0.25, 0.5, 0.74, 0.76, 1.0, 9.0]).reshape(1, 1, 1, -1)
    got = bin_index(x, torch.tensor([0.0]), torch.tensor([1.0]), 4).flatten().tolist()
    assert got == [0, 0, 0, 1, 2, 2, 3, 3, 3]
    # per-channel ranges
    x2 = torch.tensor([[0.5], [5.0]]).reshape(1, 2, 1, 1)
    got2 = bin_index(x2, torch.tensor([0.0, 0.0]), torch.tensor([1.0, 10.0]), 2).flatten().tolist()
    assert got2 == [1, 1]


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_matches_naive_double_sum(depth):
    layer = _randomise(CoL(4, bins=4, kernel_size=3, depth=depth, value_range=(-0.2, 1.1)))
    # values outside the range exercise the clamping to the first / last bin
    x = torch.rand(1, 4, 5, 6) * 1.6 - 0.3
    y = layer(x).detach()
    assert torch.allclose(y, _naive(layer, x), atol=1e-5, rtol=0)


def test_all_ones_L_is_depthwise_conv():
    layer = _randomise(CoL(3, bins=6, kernel_size=5))
    with torch.no_grad():
        layer.cooc.fill_(1.0)
    x = torch.rand(2, 3, 12, 10) * 2 - 0.5
    expected = F.conv2d(x, layer.weight, padding=2, groups=3)
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_fresh_layer_is_gaussian_blur():
    for depth in (1, 3, 4):
        layer = CoL(4, bins=5, kernel_size=5, depth=depth)
        x = torch.rand(1, 4, 8, 8)
        blur = CoL(4, bins=5, kernel_size=5).weight
        assert torch.allclose(layer(x), F.conv2d(x, blur, padding=2, groups=4), atol=1e-6)
        assert torch.allclose(blur.sum(dim=(2, 3)), torch.ones(4, 1))


def test_batch_independence():
    layer = _randomise(CoL(3, bins=5, kernel_size=5, depth=3))
    a = torch.rand(1, 3, 16, 16)
    other = torch.randn(1, 3, 16, 16) * 50 + 100  # very different value distribution
    alone = layer(a)
    together = layer(torch.cat([a, other]))[:1]
    assert torch.equal(alone, together)


def test_tile_independence():
    layer = _randomise(CoL(2, bins=4, kernel_size=5))
    x = torch.rand(1, 2, 30, 30)
    full = layer(x)
    margin = layer.receptive_field // 2 + 1
    top, left, size = 8, 10, 12
    crop = x[:, :, top - margin:top + size + margin, left - margin:left + size + margin]
    tiled = layer(crop)[:, :, margin:margin + size, margin:margin + size]
    assert torch.allclose(tiled, full[:, :, top:top + size, left:left + size], atol=1e-6)


def test_calibrate_sets_robust_range_buffers():
    x = torch.rand(4, 2, 20, 20)
    x[:, 1] = x[:, 1] * 10 - 5
    x[0, 0, 0, 0] = 1000.0  # an outlier the percentiles must ignore
    layer = CoL(2).calibrate(x, 1.0, 99.0)
    assert 0.0 <= layer.lo[0] < 0.05 and 0.95 < layer.hi[0] <= 1.0
    assert -5.0 <= layer.lo[1] < -4.5 and 4.5 < layer.hi[1] <= 5.0
    assert "lo" in layer.state_dict() and "hi" in layer.state_dict()
    # a constant channel still gets a non-empty range
    lo, hi = robust_range(torch.ones(1, 1, 3, 3))
    assert hi.item() > lo.item()


def test_learn_range_tracks_without_batch_dependence():
    layer = CoL(1, bins=4, kernel_size=3, learn_range=True)
    layer.train()
    a = torch.rand(1, 1, 8, 8)
    before = layer(a).detach()
    # the first training batch sets the range (after the forward) ...
    assert layer.range_updates.item() == 1
    assert torch.allclose(torch.stack([layer.lo, layer.hi]).flatten(), torch.stack(robust_range(a)).flatten())
    # ... but the forward binned with the range stored before: same as a layer on (0, 1)
    assert torch.equal(before, CoL(1, bins=4, kernel_size=3)(a))
    for _ in range(3):
        layer(torch.rand(2, 1, 8, 8) * 4 - 2)
    assert layer.range_updates.item() == 4 and layer.lo.item() < 0.0
    layer.eval()
    lo = layer.lo.clone()
    layer(torch.rand(1, 1, 8, 8) * 100)
    assert torch.equal(layer.lo, lo)


def test_gradcheck_input_weight_cooc():
    torch.manual_seed(1)
    bins = 3
    lo, hi = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    # values at bin centres +- 0.3 bin widths: far from the boundaries at 1/3 and 2/3
    centre = torch.randint(0, bins, (1, 2, 5, 5)).double() + 0.5
    x = ((centre + (torch.rand(1, 2, 5, 5, dtype=torch.float64) - 0.5) * 0.6) / bins).requires_grad_()
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    L = torch.randn(bins, bins, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x_, w_, L_: col(x_, w_, L_, lo, hi), (x, w, L))
    # 3-D support (depth == channels: full channel mixing)
    layer = _randomise(CoL(2, bins=bins, kernel_size=3, depth=2)).double()
    w3 = layer.weight.detach().clone().requires_grad_()

    def f3(x_, w_, L_):
        return col(x_, w_, L_, lo, hi)

    assert torch.autograd.gradcheck(f3, (x, w3, L))


def test_gradients_flow_to_parameters():
    layer = CoL(2, bins=4, kernel_size=3, depth=2)
    x = torch.rand(1, 2, 6, 6, requires_grad=True)
    layer(x).square().sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert layer.cooc.grad is not None and layer.cooc.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_onnx_parity(depth):
    layer = _randomise(CoL(4, bins=5, kernel_size=5, depth=depth, value_range=(-0.1, 1.1)))
    example = torch.rand(1, 4, 16, 16)
    assert onnx_max_abs_diff(layer, example) < 1e-4
    assert onnx_max_abs_diff(layer, example, torch.rand(2, 4, 23, 37) * 1.4 - 0.2) < 1e-4
