import numpy as np
import pytest
import torch

from export.train.data import mosaic_rggb
from export.train.lsq import NormalEquations, kernel_support, patch_features
from export.nets import create, list_architectures
from export.nets.demosaic import MISSING, assemble, missing_targets
from export.nets.demosaic import pack_mosaic as pack
from export.onnx.convert import onnx_max_abs_diff
from export.train.demosaic import train_pafu_linear


def smooth_images(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        f = rng.uniform(1, 6, (3, 2))
        ph = rng.uniform(0, 6, 3)
        img = np.stack([0.5 + 0.4 * np.sin(f[c, 0] * x * 3 + f[c, 1] * y * 2 + ph[c]) for c in range(3)], 2)
        out.append(img.astype(np.float32))
    return out


def test_registered():
    assert {"demosaic/pafu-linear", "demosaic/pafu-linear-tiny"} <= set(list_architectures())


def test_assemble_is_inverse_of_mosaic_and_targets():
    rgb = torch.rand(2, 3, 8, 10)
    packed = pack(mosaic_rggb(rgb))
    torch.testing.assert_close(assemble(packed, missing_targets(rgb)), rgb)


def test_known_values_pass_through():
    model = create("demosaic/pafu-linear-tiny").eval()
    rgb = torch.rand(1, 3, 12, 16)
    mos = mosaic_rggb(rgb)
    torch.testing.assert_close(mosaic_rggb(model(mos)), mos)


def test_least_squares_recovers_exact_linear_map():
    torch.manual_seed(0)
    x = torch.rand(3, 4, 10, 10)
    true = torch.randn(8, 4, 3, 3)
    y = torch.nn.functional.conv2d(x, true, padding=1)
    eq = NormalEquations(1, 4 * 9, 8)
    eq.add(patch_features(x, 3), y.permute(0, 2, 3, 1).reshape(-1, 8), torch.zeros(300, dtype=torch.long))
    w = eq.solve(ridge=0.0).view(8, 4, 3, 3)
    torch.testing.assert_close(w, true, atol=1e-4, rtol=1e-4)


def test_kernel_support_mask():
    m = kernel_support((3, 5), channels=2, size=5)
    assert m.shape == (2, 50) and m[0].sum() == 18 and m[1].all()


def test_training_beats_single_kernel_and_exports():
    model = create("demosaic/pafu-linear-tiny")
    history = train_pafu_linear(model, smooth_images(), crops=24, size=32, rounds=1, selector_epochs=1, seed=0)
    assert [h["round"] for h in history][:2] == [0, 1] and all(np.isfinite(h["train_mse"]) for h in history)
    assert model.pafu.num_kernels == sum(1 for c in history[-1]["kernel_use"] if c)  # unused pruned
    model.eval()
    rgb = torch.from_numpy(np.stack(smooth_images(1, 48, seed=5))).permute(0, 3, 1, 2)
    err = ((model(mosaic_rggb(rgb)) - rgb)[..., 4:-4, 4:-4] ** 2).mean()
    naive = ((torch.nn.functional.interpolate(pack(mosaic_rggb(rgb))[:, [0, 1, 3]], scale_factor=2) - rgb)
             [..., 4:-4, 4:-4] ** 2).mean()
    assert err < naive / 4
    mos = mosaic_rggb(rgb)
    assert onnx_max_abs_diff(model, mos[..., :32, :32], mos) < 1e-4


def test_receptive_field_bounds_dependence():
    model = create("demosaic/pafu-linear-tiny").eval()
    rf = model.receptive_field
    x = torch.rand(1, 1, 64, 64)
    y = x.clone()
    c = 32
    half = rf // 2
    y[..., : c - half - 1, :] = torch.rand_like(y[..., : c - half - 1, :])
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[..., c, :], b[..., c, :])


def test_pafu_net_starts_as_the_linear_model_and_trains():
    from export.train.network import train_network

    linear = create("demosaic/pafu-linear-tiny")
    train_pafu_linear(linear, smooth_images(), crops=12, size=32, rounds=0, selector_epochs=1, seed=0)
    net = create("demosaic/pafu-net-tiny")
    net.init_from_linear(linear)
    linear.eval(), net.eval()
    mos = mosaic_rggb(torch.rand(1, 3, 24, 24))
    with torch.no_grad():
        torch.testing.assert_close(net(mos), linear(mos))
    summary = train_network(net, smooth_images(), steps=3, batch=2, patch=32, pad=8, log_every=1)
    assert len(summary["history"]) == 3 and np.isfinite(summary["history"][-1]["mse"])
    net.eval()
    assert onnx_max_abs_diff(net, mos[..., :16, :16], mos) < 1e-4


def test_plain_ablation_has_no_adaptive_layers():
    from export.layers.envelope import DisentangledConv
    from export.layers.pafu import PAFU

    plain = create("demosaic/pafu-net-tiny", plain=True)
    assert not any(isinstance(m, (PAFU, DisentangledConv)) for m in plain.modules())
    assert plain(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)


def test_pack_and_assemble_match_space_to_depth():
    from export.nets.demosaic import pack_mosaic

    rgb = torch.rand(2, 3, 6, 10, dtype=torch.float64)
    mos = mosaic_rggb(rgb)
    torch.testing.assert_close(pack_mosaic(mos), torch.nn.functional.pixel_unshuffle(mos, 2))
    packed = pack_mosaic(mos)
    assert assemble(packed, missing_targets(rgb)).dtype == torch.float64


def test_crop_weights_favour_easy_crops_with_mean_one():
    from export.train.linear import crop_weights

    errors = torch.tensor([1e-4, 1e-3, 1e-2]).view(3, 1, 1).expand(3, 4, 4) * 8
    w = crop_weights(errors, floor=1e-5, outputs=8)
    torch.testing.assert_close(w.mean(), torch.tensor(1.0))
    assert w[0] > w[1] > w[2]
    # the floor caps how much a near-perfect crop can weigh
    assert crop_weights(errors * 0, floor=1e-5, outputs=8).allclose(torch.ones(3))


def test_balanced_objective_trains():
    from export.train.network import train_network

    net = create("demosaic/pafu-net-tiny", plain=True)
    summary = train_network(net, smooth_images(), steps=2, batch=2, patch=16, pad=4, log_every=1,
                            balance=1e-5, scales=(1.0,))
    assert summary["balance"] == 1e-5 and np.isfinite(summary["history"][-1]["mse"])
    with pytest.raises(ValueError, match="even"):
        train_network(net, smooth_images(), steps=1, batch=1, patch=16, pad=3)



def test_denoising_network_starts_as_the_clean_one_and_corrects_measured_values():
    clean = create("demosaic/pafu-net-tiny", plain=True).eval()
    torch.nn.init.normal_(clean.head.weight, std=0.1)
    net = create("demosaic/pafu-net-tiny", plain=True, denoise=True).eval()
    net.load_clean(clean.state_dict())
    mos = mosaic_rggb(torch.rand(1, 3, 24, 24))
    with torch.no_grad():
        torch.testing.assert_close(net(mos), clean(mos))
        torch.testing.assert_close(mosaic_rggb(clean(mos)), mos)  # the clean model keeps measured values
        net.head.bias[8:] = 0.01  # the denoiser's head moves them
        torch.testing.assert_close(mosaic_rggb(net(mos)), mos + 0.01)
    assert onnx_max_abs_diff(net, mos[..., :16, :16], mos) < 1e-4


def test_linear_kernels_reproduce_flat_colour_fields():
    model = create("demosaic/pafu-linear-tiny")
    train_pafu_linear(model, smooth_images(), crops=12, size=32, rounds=1, selector_epochs=1, seed=0, prune_below=None)
    weight = model.pafu.kernels().detach()                                  # (n, 8, 4, k, k)
    colour_sums = torch.stack([weight[:, :, 0], weight[:, :, 1] + weight[:, :, 2], weight[:, :, 3]], 2).sum((3, 4))
    expected = torch.zeros(8, 3)
    for out, (colour, _) in enumerate(MISSING):
        expected[out, colour] = 1.0
    torch.testing.assert_close(colour_sums, expected.expand_as(colour_sums), atol=1e-5, rtol=0)
    rgb = torch.tensor([0.9, 0.3, 0.6]).view(1, 3, 1, 1).expand(1, 3, 24, 24)
    with torch.no_grad():
        out = model.eval()(mosaic_rggb(rgb))
    torch.testing.assert_close(out[..., 6:-6, 6:-6], rgb[..., 6:-6, 6:-6], atol=1e-5, rtol=0)


def test_constrained_solve_meets_the_constraint_and_is_least_squares_otherwise():
    torch.manual_seed(0)
    eq = NormalEquations(1, 6, 2)
    x, y = torch.randn(200, 6), torch.randn(200, 2)
    eq.add(x, y, torch.zeros(200, dtype=torch.long))
    c, d = torch.ones(1, 6), torch.tensor([[1.0, 0.0]])
    w = eq.solve(0.0, constraints=(c, d))[0].T.double()                      # (6, 2)
    torch.testing.assert_close((c.double() @ w), d.double(), atol=1e-6, rtol=0)
    free = eq.solve(0.0)[0].T.double()
    xd, yd = x.double(), y.double()
    assert ((xd @ w - yd) ** 2).sum() >= ((xd @ free - yd) ** 2).sum()
    for step in (torch.tensor([1.0, -1, 0, 0, 0, 0]), torch.tensor([0, 0, 2.0, -1, -1, 0])):  # feasible moves
        moved = w + 1e-3 * step.double()[:, None]
        assert ((xd @ moved - yd) ** 2).sum() > ((xd @ w - yd) ** 2).sum()


@pytest.mark.parametrize("steps", [5, 20])
def test_short_schedules_train(steps):
    """One-cycle schedules of a few steps (20 divided by zero in the warm-up before)."""
    from export.train.network import train_network

    torch.manual_seed(0)
    summary = train_network(create("demosaic/pafu-net-tiny"), smooth_images(), steps=steps, batch=1, patch=16,
                            pad=4, log_every=steps)
    assert np.isfinite(summary["history"][-1]["mse"])
