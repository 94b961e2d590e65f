"""The models shipped in models/: integrity, pattern consistency, tiling, quality sanity."""
import cv2
import numpy as np
import pytest

import imgadapt
from imgadapt import bayer
from imgadapt.bench.metrics import rgb_psnr
from imgadapt._registry import Registry

SHIPPED = Registry()
DEMOSAIC = SHIPPED.list("demosaic")
pytestmark = pytest.mark.skipif(not DEMOSAIC, reason="no shipped demosaicking model")


def scene(h=160, w=200, seed=0):
    """Synthetic colour scene with edges at many orientations, fine stripes and smooth shading."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = 0.4 + 0.25 * np.sin(x / (9 + 4 * c) + y / 17)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(15, 50)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0.05, 0.95, 3)
    img[20:60, 120:180] = (0.5 + 0.4 * np.sin(x[20:60, 120:180] * 1.3))[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def natural_scene(h=320, w=320, seed=0):
    """Colour 1/f noise: the power spectrum of natural images, with correlated channels."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w))

    def field():
        f = np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((h, w)))).real
        return (f - f.mean()) / f.std()
    lum, c1, c2 = field(), field(), field()
    img = 0.5 + 0.15 * np.stack([lum + 0.3 * c1, lum - 0.15 * (c1 + c2), lum + 0.3 * c2], 2)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("name", SHIPPED.list())
def test_card_checksum_and_fields(name):
    card = SHIPPED.resolve(name)
    assert SHIPPED.verified_bytes(card)
    for key in ("task", "kind", "layers", "receptive_field", "params", "train", "onnx_sha256"):
        assert key in card, key
    assert {"command", "data", "seed"} <= set(card["train"])


@pytest.mark.parametrize("name", DEMOSAIC)
def test_four_patterns_score_alike(name):
    """The same scene mosaicked with each pattern scores within 0.1 dB (a wrong phase costs many dB).

    The scene has natural-image statistics: on content near the Nyquist rate (fine stripes) any
    block-wise model is more phase-dependent than that."""
    img = natural_scene(seed=1)
    model = imgadapt.load(name)
    scores = [rgb_psnr(model(bayer.mosaic(img, p), pattern=p), img, crop=8) for p in bayer.PATTERNS]
    assert max(scores) - min(scores) < 0.1, scores


@pytest.mark.parametrize("name", DEMOSAIC)
def test_beats_opencv_bilinear_on_a_synthetic_scene(name):
    img = scene(seed=1)
    mos = bayer.mosaic(img, "RGGB")
    ours = rgb_psnr(imgadapt.demosaic(mos, model=name), img, crop=8)
    bilinear = rgb_psnr(cv2.cvtColor(mos, bayer.opencv_code("RGGB")), img, crop=8)
    assert ours > bilinear + 1.0


@pytest.mark.parametrize("name", DEMOSAIC)
def test_tiled_equals_untiled(name, assert_tiled_equals_untiled):
    img = scene(230, 250, seed=2)
    mos = bayer.mosaic(img, "GBRG").astype(np.float32) / 255
    assert_tiled_equals_untiled(name, mos, tile=64, pattern="GBRG")


@pytest.mark.parametrize("name", DEMOSAIC)
@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (17, 31)])
def test_tiny_and_odd_sizes(name, shape):
    out = imgadapt.demosaic(np.full(shape, 128, np.uint8), model=name)
    assert out.shape == shape + (3,)
    assert np.abs(out.astype(int) - 128).max() <= 2


def test_uint16_with_white_level_matches_uint8():
    img = scene(seed=3)
    mos8 = bayer.mosaic(img, "RGGB")
    out8 = imgadapt.demosaic(mos8)
    out12 = imgadapt.demosaic(((mos8.astype(np.uint32) * 4095 + 127) // 255).astype(np.uint16), white_level=4095)
    assert out12.dtype == np.uint16 and out12.max() <= 4095
    assert np.abs(out12 / 4095.0 * 255 - out8).mean() < 0.6


DENOISING = [n for n in DEMOSAIC if SHIPPED.resolve(n)["train"].get("noise")]


@pytest.mark.parametrize("name", DENOISING)
def test_denoiser_removes_sensor_noise(name):
    """Sensor noise of variance a*x + b at the cards' medium and high levels, on a piecewise-smooth
    scene: the joint model beats OpenCV VNG and the clean linear model, which keep the noise, by
    3 dB. (Against VNG + non-local means it is measured on real photographs, in its card: on
    synthetic scenes of flat discs non-local means finds more repeats than photographs offer.)"""
    from imgadapt.bench.demosaic_eval import noisy_mosaic

    img = scene(240, 320, seed=4)
    for a, b in ((4e-3, 4e-5), (1e-2, 1e-4)):
        mos = noisy_mosaic(bayer.mosaic(img, "RGGB"), a, b, seed=0)
        ours = rgb_psnr(imgadapt.demosaic(mos, model=name), img, crop=8)
        vng = rgb_psnr(cv2.cvtColor(mos, bayer.opencv_code("RGGB", "VNG")), img, crop=8)
        linear = rgb_psnr(imgadapt.demosaic(mos, model="demosaic/pafu-linear"), img, crop=8)
        assert ours > max(vng, linear) + 3.0, (a, b, ours, vng, linear)
