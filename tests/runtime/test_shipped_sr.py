"""The super-resolution models shipped in models/: tiling, dtypes and sizes, quality sanity."""
import cv2
import numpy as np
import pytest

import imgadapt
from imgadapt.bench.metrics import y_psnr
from imgadapt._registry import Registry
from imgadapt.bench.resize import downscale

SR = Registry().list("sr")
pytestmark = pytest.mark.skipif(not SR, reason="no shipped super-resolution model")


def natural_scene(h=192, w=192, seed=0):
    """Colour 1/f noise with a few sharp-edged discs: natural-image spectrum plus edges."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** 1.2
    fields = [np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((h, w)))).real for _ in range(2)]
    lum, chroma = ((f - f.mean()) / f.std() for f in fields)
    img = 0.5 + 0.12 * np.stack([lum + 0.3 * chroma, lum, lum - 0.3 * chroma], 2)
    y, x = np.mgrid[0:h, 0:w]
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 40)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0.1, 0.9, 3)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("name", SR)
def test_beats_bicubic_on_a_natural_scene(name):
    model = imgadapt.load(name)
    hr = natural_scene(seed=1)
    lr = downscale(hr, model.scale)
    h, w = hr.shape[:2]
    bicubic = y_psnr(cv2.resize(lr, (w, h), interpolation=cv2.INTER_CUBIC), hr, crop=model.scale)
    assert y_psnr(model(lr), hr, crop=model.scale) > bicubic + 0.15


@pytest.mark.parametrize("name", SR)
@pytest.mark.parametrize("channels", [1, 3])
def test_tiled_equals_untiled(name, channels, assert_tiled_equals_untiled):
    img = natural_scene(150, 170, seed=2).astype(np.float32) / 255
    img = img if channels == 3 else img[..., 1]
    assert_tiled_equals_untiled(name, img, tile=48)


@pytest.mark.parametrize("name", SR)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 3), (17, 31)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_dtypes_and_tiny_sizes(name, shape, dtype):
    full = 1.0 if dtype == np.float64 else np.iinfo(dtype).max
    img = np.full(shape, 0.5 * full, dtype)
    s = imgadapt.load(name).scale
    out = imgadapt.upscale(img, scale=s, model=name)
    assert out.dtype == dtype and out.shape == (shape[0] * s, shape[1] * s) + shape[2:]
    assert np.abs(out.astype(np.float64) / full - 0.5).max() < 0.02


@pytest.mark.parametrize("scale", sorted({int(Registry().cards[n]["scale"]) for n in SR}))
def test_the_default_upscaler_is_the_most_accurate_on_the_latest_validation(scale):
    # cards measured on the same images are comparable; a card measured on an earlier, smaller
    # validation set is left out
    from imgadapt._model import default_upscaler, registry

    reg = registry()
    cards = [reg.cards[n] for n in reg.list("sr") if int(reg.cards[n]["scale"]) == scale
             and reg.cards[n]["_source"] == "shipped" and "metrics" in reg.cards[n]]
    latest = max((c["metrics"]["images"] for c in cards), key=len)
    best = max((c["metrics"]["psnr_db"], c["name"]) for c in cards if c["metrics"]["images"] == latest)
    assert default_upscaler(scale) == best[1]
