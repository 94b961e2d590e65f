import numpy as np
import pytest

import imgadapt
from imgadapt._tiling import run_tiled


@pytest.mark.parametrize("tile", [16, 24, 50])
def test_tiled_equals_untiled_demosaic(installed, rng, tile):
    whole = imgadapt.load("demosaic/conv", tile=0)
    tiled = imgadapt.load("demosaic/conv", tile=tile)
    mos = rng.random((91, 77)).astype(np.float32)
    for pattern in imgadapt.PATTERNS:
        np.testing.assert_allclose(tiled(mos, pattern), whole(mos, pattern), atol=1e-6)


def test_tiled_equals_untiled_upscale(installed, rng):
    whole = imgadapt.load("sr/conv-x2", tile=0)
    tiled = imgadapt.load("sr/conv-x2", tile=20)
    img = rng.random((63, 45, 3)).astype(np.float32)
    np.testing.assert_allclose(tiled(img), whole(img), atol=1e-6)


def test_too_small_halo_is_detected(installed, rng):
    """The fixture's receptive field is 9: a halo of 2 must change the output (the test can fail)."""
    model = imgadapt.load("edges/conv", tile=0)
    x = rng.random((3, 60, 60)).astype(np.float32)

    def fn(b):
        return model.session.run(None, {"x": b})[0]
    exact = run_tiled(fn, x, tile=16, halo=4)
    short = run_tiled(fn, x, tile=16, halo=2)
    np.testing.assert_allclose(exact, fn(x[None])[0], atol=1e-6)
    assert np.abs(short - exact).max() > 1e-4


def test_tile_origin_keeps_even_phase():
    yy, xx = np.mgrid[0:41, 0:37]
    phase = ((yy % 2) * 2 + xx % 2).astype(np.float32)[None]
    corners = []

    def fn(b):
        corners.append(b[0, 0, 0, 0])
        return b
    out = run_tiled(fn, phase, tile=9, halo=3, multiple=2)
    assert len(corners) > 4 and all(c == 0 for c in corners)
    np.testing.assert_array_equal(out, phase)


def test_bad_tile(installed):
    with pytest.raises(ValueError, match=r"tile: expected \"auto\", None or an integer >= 0"):
        imgadapt.load("demosaic/conv", tile=-4)


@pytest.mark.parametrize("shape", [(40, 33), (40, 33, 3), (3, 2), (1, 7)])
def test_fill_window_equals_converting_the_gathered_window(rng, shape):
    """Windows with mirrored, replicated and folded borders, and odd index runs, converted in place."""
    from imgadapt._tiling import REFLECT_101, REPLICATE, border_index, fill_window, take_window

    image = rng.integers(0, 65536, shape).astype(np.uint16)
    h, w = shape[:2]

    def convert(src, dst):
        src = src if src.ndim == 3 else src[..., None]
        for k in range(dst.shape[0]):
            np.multiply(src[..., k % src.shape[2]], np.float32(1 / 65535), out=dst[k])
    channels = 3 if len(shape) == 3 else 2
    for pads in ([(1, 0, REFLECT_101), (6, 6, REFLECT_101)], [(0, 1, REFLECT_101), (9, 9, REPLICATE)],
                 [(2, 2, REPLICATE)]):
        if h < 2 or w < 2:
            pads = [(p[0], p[1], REPLICATE) for p in pads]
        rows, cols = border_index(h, pads), border_index(w, pads)
        for window in ((0, len(rows), 0, len(cols)), (1, len(rows) // 2, 0, 5), (3, len(rows), 2, len(cols) - 1)):
            r, c = rows[window[0]:window[1]], cols[window[2]:window[3]]
            if not len(r) or not len(c):
                continue
            got = np.full((channels, len(r), len(c)), np.nan, np.float32)
            fill_window(got, image, r, c, convert)
            expected = np.empty_like(got)
            convert(take_window(image, r, c), expected)
            np.testing.assert_array_equal(got, expected)
    odd = np.array([5, 4, 3, 9, 10, 11, 12, 0, 0, 1]) % h
    got = np.empty((channels, len(odd), 3), np.float32)
    fill_window(got, image, odd, np.array([2, 1, 0]) % w, convert)
    expected = np.empty_like(got)
    convert(take_window(image, odd, np.array([2, 1, 0]) % w), expected)
    np.testing.assert_array_equal(got, expected)
