"""Promise: every call of the public API gives a typed error or an output of the promised shape and
dtype with finite values, whatever shapes, dtypes, strides, values and names arrive.

Property-based (hypothesis, derandomized so CI runs the same examples every time) on the tiny
fixture models, so each example costs milliseconds.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgadapt

SUPPORTED = (np.uint8, np.uint16, np.float32, np.float64)
DTYPES = SUPPORTED + (np.int8, np.int16, np.int32, np.int64, np.float16, np.bool_, np.complex64)
VALUES = ("in_range", "above_one", "negative", "nan", "inf", "huge", "constant")
LAYOUTS = ("c", "fortran", "reversed", "strided", "transposed")
TOLERANCE = 1e-3  # float input this far outside [0, 1] must be refused

CASES = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def arrays(draw, max_side: int = 24):
    """An array of random shape, dtype, value range and memory layout, with what was drawn."""
    h, w = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    channels = draw(st.sampled_from((None, None, 1, 2, 3, 3, 4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    values = draw(st.sampled_from(VALUES))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    shape = (h, w) if channels is None else (h, w, channels)
    if layout == "strided":
        shape = (2 * h, 3 * w) + shape[2:]
    x = rng.random(shape)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        x = np.clip(x * (float(info.max) + 1), info.min, info.max)
    with np.errstate(invalid="ignore", over="ignore"):
        x = {"above_one": x * 255 + 1.5, "negative": x - 2, "nan": np.where(x > 0.9, np.nan, x),
             "inf": np.where(x > 0.9, np.inf, x), "huge": x * 1e300, "constant": np.zeros_like(x)}.get(values, x)
        arr = x.astype(dtype)
    arr = {"fortran": np.asfortranarray(arr), "reversed": arr[::-1, ::-1],
           "strided": arr[::2, ::3], "transposed": arr.swapaxes(0, 1).copy().swapaxes(0, 1)}.get(layout, arr)
    return arr


def _must_refuse(arr: np.ndarray):
    """The error class the promise requires for this input, where it is certain; else None."""
    if arr.dtype not in [np.dtype(d) for d in SUPPORTED]:
        return imgadapt.InputDtypeError
    if arr.size and arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            return imgadapt.InputValueError
        if arr.min() < -TOLERANCE or arr.max() > 1 + TOLERANCE:
            return imgadapt.InputValueError
    return None


def _call(fn, arr, *args, **kwargs):
    """The output, or the typed error (anything else propagates and fails the property)."""
    try:
        return fn(arr, *args, **kwargs), None
    except imgadapt.ImgadaptError as exc:
        assert isinstance(exc, (ValueError, TypeError)), type(exc)
        assert str(exc), "an error must say what was expected and what arrived"
        return None, exc


def _check(arr, out, exc, shape, dtype):
    required = _must_refuse(arr)
    if required is not None:
        assert isinstance(exc, required), f"{arr.dtype} {arr.shape}: expected {required.__name__}, got {exc!r}"
        return
    if exc is not None:
        return
    assert out.shape == shape, (arr.shape, out.shape)
    assert out.dtype == dtype, (arr.dtype, out.dtype)
    if out.dtype.kind == "f":
        assert np.isfinite(out).all()


@CASES
@given(arr=arrays(), pattern=st.sampled_from(imgadapt.PATTERNS))
def test_demosaic_property(installed, arr, pattern):
    out, exc = _call(imgadapt.demosaic, arr, pattern)
    _check(arr, out, exc, arr.shape[:2] + (3,), arr.dtype)


@CASES
@given(arr=arrays())
def test_upscale_property(installed, arr):
    out, exc = _call(imgadapt.upscale, arr, 2)
    _check(arr, out, exc, (2 * arr.shape[0], 2 * arr.shape[1]) + arr.shape[2:], arr.dtype)


@CASES
@given(arr=arrays())
def test_edges_property(installed, arr):
    out, exc = _call(imgadapt.edges, arr)
    _check(arr, out, exc, arr.shape[:2], np.dtype(np.float32))
    if out is not None:
        assert 0 <= out.min() and out.max() <= 1


@CASES
@given(name=st.text(max_size=30), pattern=st.text(max_size=6))
def test_names_are_validated(installed, name, pattern):
    mosaic = np.zeros((8, 8), np.uint8)
    for call in (lambda: imgadapt.demosaic(mosaic, pattern), lambda: imgadapt.demosaic(mosaic, model=name),
                 lambda: imgadapt.model_info(name), lambda: imgadapt.load(name)):
        try:
            call()
        except imgadapt.ImgadaptError as exc:
            assert isinstance(exc, (ValueError, TypeError))


OPTION_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 64), st.floats(allow_nan=True),
                          st.text(max_size=4), st.just([1]))


@CASES
@given(threads=OPTION_VALUES, tile=OPTION_VALUES)
def test_load_options_are_validated(installed, threads, tile):
    try:
        model = imgadapt.load("demosaic/conv", threads=threads, tile=tile)
    except imgadapt.ImgadaptError as exc:
        assert isinstance(exc, (ValueError, TypeError))
        return
    for value in (threads, tile):
        assert not isinstance(value, (bool, float, str, list)), f"{value!r} was accepted"
    out = model(np.zeros((16, 16), np.uint8))
    assert out.shape == (16, 16, 3)


@pytest.mark.parametrize("scale", [0, -2, 2.0, True, "2", 7])
def test_upscale_scale_is_validated(installed, scale):
    with pytest.raises(imgadapt.ImgadaptError):
        imgadapt.upscale(np.zeros((8, 8, 3), np.uint8), scale)
