"""Tests of the Pixel Adaptive Filtering Unit (export/layers/pafu.py)."""
import doctest
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from export.layers import pafu as pafu_module  # noqa: E402
from export.layers.pafu import (  # noqa: E402
    PAFU,
    filter_with_selection,
    hard_onehot,
    pafu_decorrelation_loss,
    straight_through_gumbel,
)


def _force(m: PAFU, scores) -> None:
    """Make the selector's logits constant: ``scores[i]`` for kernel ``i`` at every pixel."""
    last = m.selector[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(scores, dtype=last.bias.dtype))


def _naive_eq2(x: np.ndarray, m: PAFU, index: np.ndarray) -> np.ndarray:
    """Eq. 2 pixel by pixel: kernel ``index[b, i, j]`` at its own size on the zero-padded
    neighbourhood of the pixel."""
    b_, _, h, w = x.shape
    weight = m.weight.detach().double().numpy()
    bias = None if m.bias is None else m.bias.detach().double().numpy()
    big = m.max_kernel_size
    out = np.zeros((b_, m.out_channels, h, w))
    for b in range(b_):
        for i in range(h):
            for j in range(w):
                z = index[b, i, j]
                k = m.kernel_sizes[z]
                lo, r = (big - k) // 2, k // 2
                kernel = weight[z, :, :, lo:lo + k, lo:lo + k]          # (out, in, k, k)
                patch = np.zeros((x.shape[1], k, k))
                for di in range(-r, r + 1):
                    for dj in range(-r, r + 1):
                        if 0 <= i + di < h and 0 <= j + dj < w:
                            patch[:, di + r, dj + r] = x[b, :, i + di, j + dj]
                out[b, :, i, j] = np.einsum("oiyx,iyx->o", kernel, patch)
                if bias is not None:
                    out[b, :, i, j] += bias[z]
    return out


# --- smoke and shapes ------------------------------------------------------------------------

@pytest.mark.parametrize("train", [True, False])
def test_output_shape_mixed_kernel_sizes(train):
    m = PAFU(3, 5, (3,) * 2 + (5,) * 3 + (7,), bias=True).train(train)
    assert m.weight.shape == (6, 5, 3, 7, 7)
    assert m.num_kernels == 6 and m.max_kernel_size == 7
    y = m(torch.randn(2, 3, 9, 11))
    assert y.shape == (2, 5, 9, 11)
    assert m.select(torch.randn(2, 3, 9, 11)).shape == (2, 6, 9, 11)
    assert m.logits(torch.randn(2, 3, 9, 11)).shape == (2, 6, 9, 11)


def test_guide_drives_selection():
    m = PAFU(2, 4, (3, 5), selector_in_channels=6).eval()
    x, guide = torch.randn(1, 2, 8, 8), torch.randn(1, 6, 8, 8)
    y = m(x, guide)
    assert y.shape == (1, 4, 8, 8)
    expected = filter_with_selection(x, m.kernels(), hard_onehot(m.logits(guide)))
    torch.testing.assert_close(y, expected)
    with pytest.raises(ValueError, match="guide"):
        m(x, torch.randn(1, 6, 8, 9))
    with pytest.raises(ValueError, match="selector input"):
        m(x)                               # x has 2 channels, the selector wants 6


@pytest.mark.parametrize("kwargs, error", [
    (dict(kernel_sizes=(3, 4)), ValueError),
    (dict(kernel_sizes=()), ValueError),
    (dict(kernel_sizes=5), TypeError),
    (dict(kernel_sizes=(3, 0)), ValueError),
    (dict(in_channels=0), ValueError),
    (dict(out_channels=2.0), TypeError),
    (dict(selector_depth=-1), ValueError),
    (dict(selector_channels=0), ValueError),
    (dict(tau=0.0), ValueError),
])
def test_bad_arguments_raise(kwargs, error):
    args = dict(in_channels=1, out_channels=1, kernel_sizes=(3, 5))
    args.update(kwargs)
    with pytest.raises(error):
        PAFU(**args)


def test_bad_input_raises():
    m = PAFU(2, 1, (3,))
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        m(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError):
        m(torch.randn(2, 5, 5))
    with pytest.raises(ValueError):
        filter_with_selection(torch.randn(1, 2, 5, 5), torch.randn(2, 1, 2, 4, 4),
                              torch.ones(1, 2, 5, 5))
    with pytest.raises(ValueError):
        filter_with_selection(torch.randn(1, 2, 5, 5), torch.randn(2, 1, 2, 3, 3),
                              torch.ones(1, 3, 5, 5))


# --- eq. 2 and the padding ring --------------------------------------------------------------

def test_matches_naive_per_pixel_eq2():
    m = PAFU(2, 3, (1, 3, 5, 3), selector_depth=1, bias=True).double().eval()
    x = torch.randn(2, 2, 7, 8, dtype=torch.float64)
    with torch.no_grad():
        index = m.select(x).argmax(dim=1).numpy()
        y = m(x).numpy()
    assert len(np.unique(index)) >= 2, "the test should exercise several kernels"
    np.testing.assert_allclose(y, _naive_eq2(x.numpy(), m, index), rtol=0, atol=1e-12)


def test_padding_ring_stays_zero_after_optimizer_step():
    m = PAFU(2, 2, (3, 5, 7)).train()
    ring, before = 1 - m.mask, m.weight.detach().clone()
    opt = torch.optim.AdamW(m.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(2):
        opt.zero_grad()
        loss = m(torch.randn(2, 2, 9, 9)).square().mean() + m.decorrelation_loss()
        loss.backward()
        assert float((m.weight.grad * ring).abs().max()) == 0.0
        opt.step()
    assert float((m.weight.detach() * ring).abs().max()) == 0.0
    support = m.mask.expand_as(before).bool()
    assert float((m.weight.detach() - before)[support].abs().min()) > 0   # the kernels did learn


def test_set_kernels():
    m = PAFU(2, 3, (3, 5), bias=True)
    small, big = np.random.default_rng(0).normal(size=(3, 2, 3, 3)), torch.randn(3, 2, 5, 5)
    m.set_kernels([small, big], bias=torch.arange(6.0).reshape(2, 3))
    torch.testing.assert_close(m.collapse(0).weight, torch.as_tensor(small, dtype=torch.float32))
    torch.testing.assert_close(m.weight[1], big)
    assert float(m.weight[0, :, :, 0].abs().max()) == 0.0
    torch.testing.assert_close(m.collapse(1).bias, torch.tensor([3.0, 4.0, 5.0]))
    m.set_kernels(m.kernels().detach().clone())           # a padded group round-trips
    with pytest.raises(ValueError, match="outside"):
        m.set_kernels(torch.ones(2, 3, 2, 5, 5))
    with pytest.raises(ValueError, match="shape"):
        m.set_kernels([small, small])
    with pytest.raises(ValueError, match="bias"):
        PAFU(2, 3, (3,)).set_kernels(torch.zeros(1, 3, 2, 3, 3), bias=torch.zeros(1, 3))


# --- selection -------------------------------------------------------------------------------

def test_hard_onehot_breaks_ties_to_one_kernel():
    logits = torch.zeros(1, 4, 2, 2)
    z = hard_onehot(logits)
    assert torch.equal(z.sum(dim=1), torch.ones(1, 2, 2))
    assert torch.equal(z[:, 0], torch.ones(1, 2, 2))


def test_straight_through_gumbel_is_one_hot_with_soft_gradients():
    logits = torch.randn(2, 5, 4, 4, requires_grad=True)
    z = straight_through_gumbel(logits, tau=0.5)
    torch.testing.assert_close(z.detach(), z.detach().round(), rtol=0, atol=1e-6)
    torch.testing.assert_close(z.detach().sum(dim=1), torch.ones(2, 4, 4))
    (z * torch.randn_like(z)).sum().backward()
    assert float(logits.grad.abs().sum()) > 0


def test_eval_is_deterministic_and_train_is_straight_through():
    m = PAFU(2, 3, (3, 3, 5, 5), selector_channels=8, bias=True)
    x = torch.randn(2, 2, 8, 8)
    m.eval()
    torch.testing.assert_close(m(x), m(x), rtol=0, atol=0)

    m.train()
    torch.manual_seed(1)
    y = m(x)
    torch.manual_seed(1)
    z = m.select(x).detach()
    torch.testing.assert_close(z, z.round(), rtol=0, atol=1e-6)
    assert int(z.round().sum(dim=(0, 2, 3)).gt(0).sum()) >= 2
    expected = filter_with_selection(x, m.kernels(), z.round(), m.bias)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)

    y.square().mean().backward()
    assert float(m.weight.grad.abs().sum()) > 0
    assert float(m.bias.grad.abs().sum()) > 0
    for name, p in m.selector.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


# --- gradients -------------------------------------------------------------------------------

def test_gradcheck_filter_with_fixed_selection():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    onehot = F.one_hot(torch.randint(0, 3, (1, 6, 6)), 3).permute(0, 3, 1, 2).double()
    assert torch.autograd.gradcheck(lambda x, w, b: filter_with_selection(x, w, onehot, b),
                                    (x, w, b))
    soft = torch.rand(1, 3, 6, 6, dtype=torch.float64).softmax(dim=1).requires_grad_()
    assert torch.autograd.gradcheck(filter_with_selection, (x, w, soft))


def test_gradcheck_decorrelation_loss():
    w = torch.randn(4, 1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pafu_decorrelation_loss, (w,))


# --- decorrelation ---------------------------------------------------------------------------

def test_decorrelation_loss_matches_numpy():
    m = PAFU(2, 3, (3, 3, 5, 5, 5)).double()
    flat = m.kernels().detach().numpy().reshape(5, -1)
    rows = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    expected = np.sum((rows @ rows.T - np.eye(5)) ** 2)
    assert abs(float(m.decorrelation_loss()) - expected) < 1e-10
    assert abs(float(pafu_decorrelation_loss(m.weight)) - expected) < 1e-10


def test_decorrelation_loss_zero_for_orthonormal_and_n_squared_for_identical():
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(18, 4)))
    w = torch.as_tensor(q.T * np.array([[1.0], [2.0], [0.5], [3.0]])).reshape(4, 1, 2, 3, 3)
    assert float(pafu_decorrelation_loss(w)) < 1e-12
    same = torch.randn(1, 2, 2, 3, 3).repeat(4, 1, 1, 1, 1)
    assert abs(float(pafu_decorrelation_loss(same)) - 4 * 3) < 1e-4


# --- export-time simplification --------------------------------------------------------------

@pytest.mark.parametrize("train", [False, True])
def test_collapse_equals_forced_selection(train):
    m = PAFU(2, 3, (3, 5, 7), bias=True).train(train)
    _force(m, [0.0, 100.0, 0.0])
    conv = m.collapse(1)
    assert conv.weight.shape == (3, 2, 5, 5) and conv.padding == (2, 2)
    x = torch.randn(2, 2, 10, 9)
    with torch.no_grad():
        torch.testing.assert_close(m(x), conv(x), rtol=0, atol=1e-5)
    with pytest.raises(ValueError):
        m.collapse(3)


def test_prune_keeps_outputs_when_pruned_kernels_never_selected():
    m = PAFU(2, 3, (3, 7, 5, 7), selector_depth=1, bias=True).eval()
    last = m.selector[-1]
    with torch.no_grad():
        last.bias[1] -= 100.0
        last.bias[3] -= 100.0
    x = torch.randn(2, 2, 9, 10)
    with torch.no_grad():
        used = m.select(x).sum(dim=(0, 2, 3))
        assert used[1] == 0 and used[3] == 0 and used[0] > 0 and used[2] > 0
        pruned = m.prune([0, 2])
        assert pruned.kernel_sizes == (3, 5) and pruned.max_kernel_size == 5
        assert pruned.selector[-1].out_channels == 2 and not pruned.training
        torch.testing.assert_close(pruned(x), m(x), rtol=0, atol=1e-6)
    assert m.num_kernels == 4                           # the original is left as it was
    for bad in ([], [0, 0], [4]):
        with pytest.raises(ValueError):
            m.prune(bad)


# --- receptive field -------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, depth, expected", [((3, 5), 3, 7), ((3, 7), 1, 7), ((1,), 0, 1)])
def test_receptive_field_bounds_the_dependence(sizes, depth, expected):
    m = PAFU(1, 2, sizes, selector_depth=depth).eval()
    assert m.receptive_field == expected
    r, c = expected // 2, 8
    x = torch.randn(1, 1, 17, 17)
    far = torch.randn(1, 1, 17, 17)
    far[..., c - r:c + r + 1, c - r:c + r + 1] = x[..., c - r:c + r + 1, c - r:c + r + 1]
    with torch.no_grad():
        torch.testing.assert_close(m(far)[..., c, c], m(x)[..., c, c], rtol=0, atol=0)


# --- ONNX ------------------------------------------------------------------------------------

def test_onnx_export_matches_torch_on_another_size():
    from export.onnx.convert import onnx_max_abs_diff

    m = PAFU(2, 3, (5,) * 4 + (7,) * 4, selector_channels=8, bias=True).eval()
    with torch.no_grad():                   # spread the logits so no pixel is near a tie
        m.selector[-1].weight.mul_(20.0)
        m.selector[-1].bias.copy_(torch.randperm(8).float())
    example, check = torch.randn(1, 2, 16, 16), torch.randn(2, 2, 13, 21)
    with torch.no_grad():
        top2 = m.logits(check).topk(2, dim=1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-3
    assert int(m.select(check).sum(dim=(0, 2, 3)).gt(0).sum()) >= 3
    assert onnx_max_abs_diff(m, example, check) < 1e-4


def test_doctests():
    result = doctest.testmod(pafu_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_usage_balance_loss_is_one_when_uniform_and_n_when_collapsed():
    torch.manual_seed(0)
    layer = PAFU(1, 1, (3,) * 4, selector_channels=4).train()
    assert float(layer.usage_balance_loss()) == 0.0  # nothing selected yet
    with torch.no_grad():
        for p in layer.selector.parameters():
            p.zero_()
        layer.selector[-1].bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
    layer(torch.rand(2, 1, 8, 8))
    assert float(layer.usage_balance_loss()) == pytest.approx(4.0, rel=1e-6)
    with torch.no_grad():
        layer.selector[-1].bias.zero_()
    hard = torch.eye(4)[torch.arange(64) % 4].T.reshape(1, 4, 8, 8)  # every kernel a quarter of the pixels
    layer._last_selection = (hard, torch.zeros(1, 4, 8, 8))
    assert float(layer.usage_balance_loss()) == pytest.approx(1.0)
    layer.release_selection()
    assert float(layer.usage_balance_loss()) == 0.0
    layer(torch.rand(2, 1, 8, 8))
    layer.eval()(torch.rand(1, 1, 8, 8))
    assert float(layer.usage_balance_loss()) == 0.0  # an inference pass leaves no graph behind


def test_usage_balance_loss_spreads_a_collapsed_selection():
    torch.manual_seed(0)
    layer = PAFU(1, 1, (3,) * 4, selector_channels=4).train()
    with torch.no_grad():
        layer.selector[-1].bias.copy_(torch.tensor([3.0, 0.0, 0.0, 0.0]))
    opt = torch.optim.SGD(layer.selector.parameters(), lr=0.5)
    x = torch.rand(4, 1, 8, 8)
    shares = []
    for _ in range(60):
        layer(x)
        loss = layer.usage_balance_loss()
        shares.append(float(layer._last_selection[0][:, 0].mean()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert shares[0] > 0.7 and max(shares[-5:]) < 0.5


def test_selection_information_loss_is_zero_when_confident_and_balanced_and_log_n_otherwise():
    layer = PAFU(1, 1, (3,) * 4, selector_channels=4).train()
    assert float(layer.selection_information_loss()) == 0.0  # nothing selected yet
    onehot = torch.eye(4)[torch.arange(64) % 4].T.reshape(1, 4, 8, 8)
    layer._last_selection = (onehot, 60.0 * onehot)  # each pixel sure, each kernel a quarter
    assert float(layer.selection_information_loss()) == pytest.approx(0.0, abs=1e-6)
    layer._last_selection = (onehot, torch.zeros(1, 4, 8, 8))  # flat scores
    assert float(layer.selection_information_loss()) == pytest.approx(math.log(4), rel=1e-6)
    one = torch.zeros(1, 4, 8, 8)
    one[:, 0] = 60.0
    layer._last_selection = (onehot, one)  # one kernel everywhere, surely
    assert float(layer.selection_information_loss()) == pytest.approx(math.log(4), rel=1e-5)
    p = torch.tensor([0.7, 0.1, 0.1, 0.1])  # the same scores at every pixel: H(mean) = H(p)
    layer._last_selection = (onehot, p.log().view(1, 4, 1, 1).expand(1, 4, 8, 8))
    assert float(layer.selection_information_loss()) == pytest.approx(math.log(4), rel=1e-6)


def test_selection_information_makes_the_inference_choice_adaptive():
    """Nearly flat scores with a slight lean to kernel 0: the Gumbel samples of training spread over
    the group (the balance loss is at its minimum) while the argmax at inference picks kernel 0
    everywhere. Trained on the selection-information loss, the argmax uses the group."""
    torch.manual_seed(0)
    layer = PAFU(1, 1, (3,) * 4, selector_channels=8).train()
    with torch.no_grad():
        layer.selector[-1].weight.mul_(1e-3)
        layer.selector[-1].bias.copy_(torch.tensor([0.05, 0.0, 0.0, 0.0]))
    x = torch.rand(4, 1, 12, 12)

    def shares():
        return torch.bincount(layer.logits(x).argmax(1).flatten(), minlength=4).double() / x[:, 0].numel()

    layer(x)
    assert float(layer.usage_balance_loss()) == pytest.approx(1.0, abs=0.05)
    assert float(layer.selection_information_loss()) == pytest.approx(math.log(4), abs=0.01)
    assert float(shares()[0]) == 1.0
    opt = torch.optim.Adam(layer.selector.parameters(), lr=0.03)
    for _ in range(150):
        layer(x)
        loss = layer.selection_information_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        layer.release_selection()
    assert float(loss) < 0.5 and int((shares() > 0.1).sum()) >= 3
