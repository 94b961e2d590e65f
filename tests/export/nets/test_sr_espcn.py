import numpy as np
import pytest
import torch

from export.layers.envelope import DisentangledConv
from export.layers.pafu import PAFU
from export.nets import create
from export.onnx.convert import onnx_max_abs_diff
from export.train.network import train_network
from export.train.sr import make_sr_dataset, solve_conv, sr_batches, train_pafu_linear_sr


def textured_images(n=3, size=64, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    return [np.stack([0.5 + 0.4 * np.sin(rng.uniform(2, 9) * x * 3 + rng.uniform(2, 9) * y * 2 + c)
                      for c in range(3)], 2).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("name", ["sr/pafu-espcn-x3", "sr/pafu-espcn-plain-x3"])
def test_shapes_and_layers(name):
    model = create(name).eval()
    assert model(torch.rand(1, 1, 7, 9)).shape == (1, 1, 21, 27)
    adaptive = any(isinstance(m, (PAFU, DisentangledConv)) for m in model.modules())
    assert adaptive == (not model.plain)


def test_receptive_field_bounds_the_dependence():
    model = create("sr/pafu-espcn-tiny-x2").eval()
    x = torch.rand(1, 1, 31, 31)
    y = x.clone()
    r = model.receptive_field // 2
    y[..., :15 - r, :] = torch.rand_like(y[..., :15 - r, :])  # change only what lies beyond the radius
    with torch.no_grad():
        torch.testing.assert_close(model(x)[..., 30:32, :], model(y)[..., 30:32, :])


def test_plain_linear_path_is_least_squares():
    model = create("sr/pafu-espcn-plain-x2", features=4)
    lr, targets = make_sr_dataset(textured_images(), 8, 32, 2, seed=0, scales=(1.0,))
    solve_conv(model.skip, lr, targets)
    with torch.no_grad():
        fit = torch.nn.functional.conv2d(lr, model.skip.weight, padding=2)[..., 2:-2, 2:-2]
    assert torch.nn.functional.mse_loss(fit, targets[..., 2:-2, 2:-2]) < 2e-3


def test_starts_from_the_linear_upscaler_and_trains_around_it():
    torch.manual_seed(0)
    images = textured_images()
    linear = create("sr/pafu-linear-tiny-x2")
    train_pafu_linear_sr(linear, images, crops=8, size=32, rounds=0, selector_epochs=1, scales=(1.0,))
    model = create("sr/pafu-espcn-tiny-x2", linear_kernel_sizes=linear.pafu.kernel_sizes)
    model.init_from_linear(linear)
    lr, _ = make_sr_dataset(images, 2, 32, 2, seed=0, scales=(1.0,))
    with torch.no_grad():  # the linear path is the trained linear upscaler
        from export.nets.sr import depth_to_space

        model.eval()
        torch.testing.assert_close(depth_to_space(model.skip.pafu(lr, model.skip.guide(lr)), 2), linear.eval()(lr))
    assert torch.equal(model.out.bias, model.out.bias[:1].expand_as(model.out.bias))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary = train_network(model, images, steps=3, lr=1e-3, fixed_pafu=[model.skip.pafu], pad=2, log_every=1,
                            batch_fn=sr_batches(images, 2, 32, 2, 2, scales=(1.0,)))
    assert np.isfinite(summary["history"][-1]["mse"])
    after = model.state_dict()
    for key in before:
        if key.startswith("skip."):  # the linear path stays as trained
            torch.testing.assert_close(after[key], before[key])
    assert not torch.equal(before["out.selector.0.weight"], after["out.selector.0.weight"])  # selection learns
    assert not torch.equal(before["out.weight"], after["out.weight"])
    model.eval()
    assert onnx_max_abs_diff(model, lr[:1, :, :10, :12], lr[:1]) < 1e-4
    with pytest.raises(ValueError, match="x2 linear PAFU"):
        create("sr/pafu-espcn-plain-x2").init_from_linear(linear)


def test_depth_adds_3x3_layers_and_widens_the_receptive_field():
    shallow, deep = create("sr/pafu-espcn-plain-x2", features=4), create("sr/pafu-espcn-plain-x2", features=4, depth=4)
    assert len(deep.extra) == 2 and deep.receptive_field == shallow.receptive_field + 4
    x = torch.rand(1, 1, 31, 31)
    y = x.clone()
    r = deep.receptive_field // 2
    y[..., :15 - r, :] = torch.rand_like(y[..., :15 - r, :])
    with torch.no_grad():
        torch.testing.assert_close(deep.eval()(x)[..., 30:32, :], deep(y)[..., 30:32, :])


def test_a_plain_network_starts_its_hidden_layers_from_another_scale(tmp_path):
    from export.train.sr_runs import copy_hidden_layers
    from imgadapt.errors import InputValueError

    x2 = create("sr/pafu-espcn-plain-x2", depth=3)
    torch.save({"arch": "sr/pafu-espcn-plain-x2", "state_dict": x2.state_dict()}, tmp_path / "x2.pt")
    x4 = create("sr/pafu-espcn-plain-x4", depth=3)
    out_before, skip_before = x4.out.weight.clone(), x4.skip.weight.clone()
    copied = copy_hidden_layers(x4, tmp_path / "x2.pt")
    assert copied == ["body.bias", "body.weight", "embed.bias", "embed.weight", "extra.0.bias", "extra.0.weight",
                      "refine.bias", "refine.weight"]
    for a, b in ((x4.embed, x2.embed), (x4.body, x2.body), (x4.refine, x2.refine), (x4.extra[0], x2.extra[0])):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert torch.equal(x4.out.weight, out_before) and torch.equal(x4.skip.weight, skip_before)
    with pytest.raises(InputValueError, match="same features and depth"):
        copy_hidden_layers(create("sr/pafu-espcn-plain-x4", depth=2), tmp_path / "x2.pt")
    torch.save({"arch": "sr/pafu-linear-x2", "state_dict": {}}, tmp_path / "linear.pt")
    torch.save({"model": x2.state_dict()}, tmp_path / "resume.pt")
    for wrong in ("linear.pt", "resume.pt"):
        with pytest.raises(InputValueError, match="expected a shipped plain super-resolution network"):
            copy_hidden_layers(x4, tmp_path / wrong)
