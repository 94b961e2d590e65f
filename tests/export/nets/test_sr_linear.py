import numpy as np
import pytest
import torch
import torch.nn.functional as F

from export.train.lsq import NormalEquations, patch_features
from export.nets import create
from export.nets.sr import depth_to_space
from export.onnx.convert import onnx_max_abs_diff
from export.train.linear import inner, solve_kernels
from export.train.sr import make_sr_dataset, train_pafu_linear_sr
from imgadapt.bench.resize import downscale


def textured_images(n=4, size=72, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        f = rng.uniform(2, 9, (3, 2))
        img = np.stack([0.5 + 0.4 * np.sin(f[c, 0] * x * 3 + f[c, 1] * y * 2 + c) for c in range(3)], 2)
        out.append(img.astype(np.float32))
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_depth_to_space_is_pixel_shuffle(scale):
    x = torch.rand(2, scale * scale, 5, 7)
    torch.testing.assert_close(depth_to_space(x, scale), F.pixel_shuffle(x, scale))


def test_dataset_pairs_antialiased_bicubic_inputs_with_their_sub_pixels():
    lr, targets = make_sr_dataset(textured_images(), crops=3, size=24, scale=3, seed=0, scales=(1.0,))
    assert lr.shape == (3, 1, 8, 8) and targets.shape == (3, 9, 8, 8)
    hr = F.pixel_shuffle(targets, 3)[:, 0].double().numpy()
    for low, high in zip(lr[:, 0].double().numpy(), hr):
        # luma is linear, so the luma of the 8-bit downscaled crop is the downscaled luma up to rounding
        assert np.abs(low - downscale(high, 3)).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="multiple"):
        make_sr_dataset(textured_images(), crops=1, size=25, scale=2, seed=0)


def test_border_pixels_are_left_out_of_the_solve():
    """With a border, the solve is the least squares over the inner pixels only (zero-padded
    neighbourhoods at the crop's edge would bias it)."""
    model = create("sr/pafu-linear-tiny-x2")
    lr, targets = make_sr_dataset(textured_images(), crops=4, size=32, scale=2, seed=1, scales=(1.0,))
    labels = torch.zeros(4, 12, 12, dtype=torch.long)
    solve_kernels(model, lr, targets, labels, ridge=1e-9, border=2)
    feats = inner(patch_features(lr, 5).view(4, 16, 16, 25).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).reshape(-1, 25)
    y = inner(targets, 2).permute(0, 2, 3, 1).reshape(-1, 4)
    eq = NormalEquations(1, 25, 4)
    eq.add(feats, y, torch.zeros(len(feats), dtype=torch.long))
    expected = eq.solve(1e-9, torch.tensor([[False] * 6 + [True] * 3 + [False] * 2 + [True] * 3 + [False] * 2 +
                                             [True] * 3 + [False] * 6]))
    torch.testing.assert_close(model.pafu.kernels()[0].reshape(4, 25), expected[0], atol=1e-4, rtol=1e-3)


def test_linear_sr_beats_bicubic_and_exports():
    torch.manual_seed(0)
    model = create("sr/pafu-linear-tiny-x2")
    history = train_pafu_linear_sr(model, textured_images(), crops=16, size=32, rounds=1, selector_epochs=1,
                                   scales=(1.0,))
    model.eval()
    lr, targets = make_sr_dataset(textured_images(seed=5), crops=6, size=32, scale=2, seed=3, scales=(1.0,))
    hr = F.pixel_shuffle(targets, 2)[..., 4:-4, 4:-4]
    with torch.no_grad():
        ours = model(lr)[..., 4:-4, 4:-4]
    bicubic = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)[..., 4:-4, 4:-4]
    assert F.mse_loss(ours, hr) < 0.8 * F.mse_loss(bicubic, hr)
    assert np.isfinite(history[-1]["train_psnr"])
    assert onnx_max_abs_diff(model, lr[:1, :, :10, :12], lr[:1]) < 1e-4
