"""Promises of the public API about the arrays and options it is given (README, "Python API"):

- float input holds values in [0, 1] (give or take rounding noise), else ``InputValueError`` says the
  range expected and the range that arrived; ``white_level`` is validated with typed errors;
- ``HxWx1`` is gray everywhere (``upscale`` keeps the channel axis);
- ``upscale``, ``edges`` and ``demosaic`` stream their tiles: no frame-sized float32 copy;
- integer options refuse bools (and floats, strings) with a typed error.

Every test builds its own arrays and runs on the tiny fixture models (tests/runtime/conftest.py).
"""
from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

import imgadapt
from imgadapt._checks import FLOAT_TOLERANCE
from imgadapt._model import load_from


def _calls(registry):
    """One callable per array-taking entry point, each on the fixture models."""
    demosaicker = load_from(registry, "demosaic/conv")
    edger = load_from(registry, "edges/conv")
    return {
        "demosaic": lambda x: imgadapt.demosaic(x[..., 0] if x.ndim == 3 else x),
        "upscale": lambda x: imgadapt.upscale(x, 2),
        "edges": lambda x: imgadapt.edges(x),
        "Model.__call__ (demosaic)": lambda x: demosaicker(x[..., 0] if x.ndim == 3 else x, "GRBG"),
        "Model.__call__ (edges)": lambda x: edger(x),
    }


ENTRY_POINTS = ["demosaic", "upscale", "edges", "Model.__call__ (demosaic)", "Model.__call__ (edges)"]


# ---------------------------------------------------------------------------------------------
# 9. float input outside [0, 1]; white_level


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", ["0..255 in float32", "1e300 in float64", "negative", "just above 1"])
def test_float_input_outside_unit_range_is_refused(installed, registry, rng, entry, case):
    base = rng.random((16, 18, 3))
    x = {"0..255 in float32": (base * 255).astype(np.float32),
         "1e300 in float64": base * 1e300,
         "negative": (base - 0.5).astype(np.float32),
         "just above 1": np.minimum(base + 0.01, 1.01)}[case]
    with pytest.raises(imgadapt.InputValueError, match=r"expected float values in \[0, 1\].*got values from"):
        _calls(registry)[entry](x)


def test_float_range_error_names_the_range_that_arrived(installed, rng):
    x = (rng.random((8, 8)) * 200 + 10).astype(np.float32)
    x[0, 0], x[0, 1] = 0.0, 250.0
    with pytest.raises(imgadapt.InputValueError, match=r"got values from 0 to 250"):
        imgadapt.edges(x)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_float_rounding_noise_is_accepted(installed, registry, rng, entry):
    """Values within FLOAT_TOLERANCE of [0, 1] (float32 rounding of a pipeline) pass, and outputs stay in range."""
    x = rng.random((16, 18, 3)).astype(np.float32)
    x[0, 0], x[1, 1] = 1 + FLOAT_TOLERANCE / 2, -FLOAT_TOLERANCE / 2
    out = _calls(registry)[entry](x)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("white_level,exc,match", [
    (0.5, imgadapt.InputValueError, r"white_level: expected a number in \[1, 65535\] for uint16"),
    (0, imgadapt.InputValueError, r"\[1, 65535\]"),
    (-4095, imgadapt.InputValueError, r"\[1, 65535\]"),
    (float("nan"), imgadapt.InputValueError, r"\[1, 65535\]"),
    (float("inf"), imgadapt.InputValueError, r"\[1, 65535\]"),
    (70000, imgadapt.InputValueError, r"\[1, 65535\]"),
    (True, imgadapt.InputDtypeError, "white_level: expected a number, got bool"),
    ("4095", imgadapt.InputDtypeError, "white_level: expected a number, got str"),
])
def test_white_level_is_validated(installed, white_level, exc, match):
    mosaic = np.full((8, 8), 100, np.uint16)
    with pytest.raises(exc, match=match):
        imgadapt.demosaic(mosaic, white_level=white_level)


def test_white_level_for_uint8_and_float_data(installed):
    with pytest.raises(imgadapt.InputValueError, match=r"\[1, 255\] for uint8"):
        imgadapt.demosaic(np.zeros((8, 8), np.uint8), white_level=1023)
    with pytest.raises(imgadapt.InputDtypeError, match="white_level applies to integer data"):
        imgadapt.demosaic(np.zeros((8, 8), np.float32), white_level=0.5)


def test_data_above_white_level_is_refused(installed):
    mosaic = np.full((8, 8), 1000, np.uint16)
    mosaic[3, 3] = 5000
    with pytest.raises(imgadapt.InputValueError,
                       match=r"expected values up to white_level 4095, got values up to 5000"):
        imgadapt.demosaic(mosaic, white_level=4095)


@pytest.mark.parametrize("white_level", [1, 4095, np.uint16(4095), 4095.0, 65535])
def test_valid_white_levels_are_accepted(installed, white_level):
    mosaic = np.full((8, 8), 1, np.uint16)
    out = imgadapt.demosaic(mosaic, white_level=white_level)
    assert out.dtype == np.uint16 and out.max() <= white_level


# ---------------------------------------------------------------------------------------------
# 10. HxWx1 is gray everywhere


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_hxwx1_is_gray_for_all_three(installed, rng, dtype):
    gray = rng.random((13, 17)).astype(np.float32)
    gray = (gray * 255).astype(dtype) if dtype == np.uint8 else gray
    one = gray[..., None]
    np.testing.assert_array_equal(imgadapt.demosaic(one), imgadapt.demosaic(gray))
    np.testing.assert_array_equal(imgadapt.edges(one), imgadapt.edges(gray))
    up = imgadapt.upscale(one, 2)
    assert up.shape == (26, 34, 1) and up.dtype == dtype
    np.testing.assert_array_equal(up[..., 0], imgadapt.upscale(gray, 2))


def test_hxwx1_on_a_luma_upscaler(luma_sr, installed, rng):
    """The shipped upscalers take luma: HxWx1 went into cv2.cvtColor(BGR2YCrCb) and raised cv2.error."""
    model = imgadapt.load(luma_sr)
    gray = rng.integers(0, 256, (11, 14), dtype=np.uint8)
    up = model(gray[..., None])
    assert up.shape == (22, 28, 1) and up.dtype == np.uint8
    np.testing.assert_array_equal(up[..., 0], model(gray))


@pytest.mark.parametrize("shape", [(8, 8, 2), (8, 8, 4)])
def test_other_channel_counts_are_refused_everywhere(installed, shape):
    x = np.zeros(shape, np.uint8)
    for call in (lambda: imgadapt.upscale(x, 2), lambda: imgadapt.edges(x)):
        with pytest.raises(imgadapt.InputShapeError, match=r"expected HxW or HxWx3"):
            call()
    with pytest.raises(imgadapt.InputShapeError, match=r"expected HxW"):
        imgadapt.demosaic(x)


# ---------------------------------------------------------------------------------------------
# 11. streaming: no frame-sized float32 copy


def _numpy_peak_over_output(call, x):
    """Peak memory traced during ``call(x)`` (numpy and OpenCV arrays are traced; onnxruntime's own
    buffers are not) beyond the output array itself."""
    call(x[:40, :40])  # warm-up
    tracemalloc.start()
    try:
        out = call(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - out.nbytes


@pytest.mark.parametrize("name,kwargs", [("sr/conv-x2", {}), ("sr/luma-x2", {}), ("edges/conv", {}),
                                         ("demosaic/conv", {"pattern": "GBRG"})])
def test_tiles_stream_without_a_frame_sized_float_copy(luma_sr, registry, rng, name, kwargs):
    """Memory beyond the output stays a fixed tile working set, far below the frame in float32
    (which a frame-wide conversion would allocate at least once, and the old upscale path ~9 times)."""
    model = load_from(registry, name, tile=64)
    if name.startswith("demosaic"):
        x = rng.integers(0, 256, (1536, 1024), dtype=np.uint8)
    else:
        x = rng.integers(0, 256, (768, 512, 3), dtype=np.uint8)
    frame_f32 = x.size * 4
    over = _numpy_peak_over_output(lambda a: model(a, **kwargs), x)
    assert over < frame_f32 / 4, (f"{name}: {over / 2**20:.2f} MB beyond the output; "
                                  f"the frame in float32 is {frame_f32 / 2**20:.2f} MB")


@pytest.mark.parametrize("tile", [16, 24, 40])
def test_luma_upscale_tiled_equals_untiled(luma_sr, installed, rng, tile):
    """Tiles of a luma upscaler: network on Y, bicubic chroma from each tile with its edge repeated."""
    bgr = rng.random((37, 53, 3)).astype(np.float32)
    whole, tiled = imgadapt.load(luma_sr, tile=0), imgadapt.load(luma_sr, tile=tile)
    np.testing.assert_allclose(tiled(bgr), whole(bgr), atol=2e-6)
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)  # the untiled definition
    expected = cv2.resize(ycc, (106, 74), interpolation=cv2.INTER_CUBIC)
    expected[..., 0] = np.clip(whole(ycc[..., 0]), 0, 1)
    np.testing.assert_allclose(tiled(bgr), np.clip(cv2.cvtColor(expected, cv2.COLOR_YCrCb2BGR), 0, 1), atol=2e-6)
    u8 = (bgr * 255).astype(np.uint8)
    assert np.abs(tiled(u8).astype(int) - whole(u8).astype(int)).max() <= 1


@pytest.mark.parametrize("shape", [(91, 77, 3), (33, 130), (130, 20, 3)])
def test_edges_tiled_equals_untiled(registry, rng, shape):
    whole = load_from(registry, "edges/conv", tile=0)
    tiled = load_from(registry, "edges/conv", tile=24)
    img = rng.integers(0, 65536, shape, dtype=np.uint16)
    np.testing.assert_allclose(tiled(img), whole(img), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 15. bools (and other non-integers) are refused for integer options


@pytest.mark.parametrize("option", ["threads", "tile"])
@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, "2"])
def test_integer_options_refuse_bools_and_non_integers(installed, option, value):
    with pytest.raises(imgadapt.InputDtypeError, match=rf"{option}: expected .*an integer >= \d, got"):
        imgadapt.load("demosaic/conv", **{option: value})


def test_threads_true_is_refused_even_when_a_one_thread_session_is_cached(installed):
    """True == 1 and hash(True) == hash(1): a cached threads=1 session used to serve threads=True."""
    imgadapt.load("demosaic/conv", threads=1)
    with pytest.raises(imgadapt.InputDtypeError, match="threads"):
        imgadapt.load("demosaic/conv", threads=True)


@pytest.mark.parametrize("option,value", [("threads", 0), ("threads", -1), ("tile", -4)])
def test_integer_options_out_of_range(installed, option, value):
    with pytest.raises(imgadapt.InputValueError, match=rf"{option}: expected"):
        imgadapt.load("demosaic/conv", **{option: value})


def test_numpy_integers_are_accepted(installed):
    model = imgadapt.load("demosaic/conv", threads=np.int64(1), tile=np.int32(16))
    assert type(model.tile) is int and type(model.threads) is int
    assert model(np.zeros((40, 40), np.uint8)).shape == (40, 40, 3)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_strict_takes_only_a_bool(installed, value):
    with pytest.raises(imgadapt.InputDtypeError, match="strict: expected True or False"):
        imgadapt.load("demosaic/conv", strict=value)


@pytest.mark.parametrize("scale", [True, 2.0, np.float64(2)])
def test_upscale_scale_refuses_bools_and_floats(installed, scale):
    with pytest.raises(imgadapt.InputDtypeError, match="scale: expected an integer"):
        imgadapt.upscale(np.zeros((8, 8, 3), np.uint8), scale)
