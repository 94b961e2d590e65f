import subprocess
import sys

import numpy as np
import pytest

import imgadapt


def test_import_does_not_pull_torch():
    code = "import sys, imgadapt; imgadapt.list_models(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_lists_and_describes(installed):
    assert imgadapt.list_models("demosaic") == ["demosaic/conv"]
    info = imgadapt.model_info("demosaic/conv")
    assert info["task"] == "demosaic" and not any(k.startswith("_") for k in info)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 2), (5, 7), (33, 20)])
def test_demosaic_dtypes_and_sizes(installed, rng, dtype, shape):
    if np.dtype(dtype).kind == "u":
        mos = rng.integers(0, np.iinfo(dtype).max, shape).astype(dtype)
    else:
        mos = rng.random(shape).astype(dtype)
    out = imgadapt.demosaic(mos, "GBRG")
    assert out.shape == shape + (3,) and out.dtype == dtype


def test_demosaic_pattern_is_a_phase_shift(installed, rng):
    """A GRBG mosaic equals the RGGB mosaic of the image shifted by one column."""
    mos = rng.random((20, 21)).astype(np.float32)
    grbg = imgadapt.demosaic(mos[:, 1:], "GRBG")
    rggb = imgadapt.demosaic(mos, "RGGB")
    np.testing.assert_allclose(grbg[:, 6:-6], rggb[:, 7:-6], atol=1e-6)


def test_demosaic_white_level(installed, rng):
    mos12 = rng.integers(0, 4096, (16, 16)).astype(np.uint16)
    out = imgadapt.demosaic(mos12, white_level=4095)
    assert out.max() <= 4095
    ref = imgadapt.demosaic(mos12.astype(np.float32) / 4095)
    np.testing.assert_allclose(out, np.clip(np.rint(ref * 4095), 0, 4095), atol=1)


def test_demosaic_non_contiguous_input(installed, rng):
    mos = rng.random((30, 40)).astype(np.float32)
    np.testing.assert_allclose(imgadapt.demosaic(mos[::-1][::-1]), imgadapt.demosaic(np.asfortranarray(mos)))


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((8, 8, 3), np.uint8), imgadapt.InputShapeError, "expected HxW, got shape"),
    (np.zeros((8, 8), bool), imgadapt.InputDtypeError, "got bool"),
    (np.zeros((8, 8), np.int64), imgadapt.InputDtypeError, "got int64"),
    (np.zeros((1, 8), np.uint8), imgadapt.InputSizeError, "at least 2x2"),
    (np.full((4, 4), np.nan, np.float32), imgadapt.InputValueError, "finite"),
])
def test_demosaic_bad_input(installed, bad, exc, match):
    with pytest.raises(exc, match=match):
        imgadapt.demosaic(bad)


def test_demosaic_bad_names(installed):
    with pytest.raises(imgadapt.UnknownNameError, match="Bayer pattern"):
        imgadapt.demosaic(np.zeros((4, 4), np.uint8), pattern="XYZW")
    with pytest.raises(imgadapt.UnknownNameError, match="did you mean 'demosaic/conv'"):
        imgadapt.demosaic(np.zeros((4, 4), np.uint8), model="demosaic/con")
    with pytest.raises(imgadapt.UnknownNameError, match="expected a demosaic model"):
        imgadapt.demosaic(np.zeros((4, 4), np.uint8), model="edges/conv")


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_upscale_keeps_dtype_and_channels(installed, rng, shape, dtype):
    img = (rng.random(shape) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    out = imgadapt.upscale(img, 2)
    assert out.shape == (18, 22) + shape[2:] and out.dtype == dtype


def test_upscale_bad_scale(installed):
    with pytest.raises(imgadapt.UnknownNameError, match=r"scale: expected one of \[2\], got 3"):
        imgadapt.upscale(np.zeros((8, 8), np.uint8), 3)
    with pytest.raises(TypeError, match="scale: expected an integer"):
        imgadapt.upscale(np.zeros((8, 8), np.uint8), 2.0)


def test_edges_returns_probability(installed, rng):
    prob = imgadapt.edges((rng.random((17, 23, 3)) * 255).astype(np.uint8))
    assert prob.shape == (17, 23) and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1


def test_loaded_model_is_reusable_and_callable(installed, rng):
    model = imgadapt.load("demosaic/conv", threads=1)
    mos = rng.random((12, 12)).astype(np.float32)
    np.testing.assert_array_equal(model(mos), imgadapt.demosaic(mos, model=model))
    assert "demosaic/conv" in repr(model)


def test_luma_upscaler_takes_y_and_leaves_chroma_to_bicubic(luma_sr, installed, rng):
    """A one-channel sr model upscales the BT.601 Y of a BGR image; Cr and Cb go through bicubic."""
    import cv2

    model = imgadapt.load(luma_sr, tile=0)
    bgr = rng.random((10, 13, 3)).astype(np.float32)
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    expected = cv2.resize(ycc, (26, 20), interpolation=cv2.INTER_CUBIC)
    expected[..., 0] = model(ycc[..., 0])
    expected = np.clip(cv2.cvtColor(expected, cv2.COLOR_YCrCb2BGR), 0, 1)
    np.testing.assert_allclose(model(bgr), expected, atol=1e-6)
    assert model(bgr[:, ::-1]).shape == (20, 26, 3)  # any strides
    out8 = model((bgr * 255).astype(np.uint8))
    assert out8.dtype == np.uint8 and out8.shape == (20, 26, 3)


def test_upscale_self_ensemble_averages_the_eight_flips_and_rotations():
    import imgadapt

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (17, 23, 3)).astype(np.uint8)
    model = imgadapt.load("sr/pafu-linear-x2", tile=0)
    outs = []
    for k in range(8):
        turned = np.ascontiguousarray(np.rot90(image[:, ::-1] if k >= 4 else image, k % 4))
        back = np.rot90(model(turned), -(k % 4))
        outs.append((back[:, ::-1] if k >= 4 else back).astype(np.float64))
    expected = np.clip(np.rint(np.mean(outs, axis=0)), 0, 255).astype(np.uint8)
    got = imgadapt.upscale(image, 2, model=model, ensemble=True)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (34, 46, 3) and not np.array_equal(got, imgadapt.upscale(image, 2, model=model))
    gray = rng.random((9, 12)).astype(np.float32)
    assert imgadapt.upscale(gray, 2, model=model, ensemble=True).dtype == np.float32
    with pytest.raises(imgadapt.InputDtypeError, match="ensemble"):
        imgadapt.upscale(image, 2, ensemble="yes")
