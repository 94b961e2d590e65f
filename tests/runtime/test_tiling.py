import numpy as np
import pytest

import imgadapt
from imgadapt._tiling import run_tiled


@pytest.mark.parametrize("tile", [16, 24, 50])
def test_tiled_equals_untiled_demosaic(registry, rng, tile):
    whole = imgadapt.load("demosaic/conv", registry=registry, tile=0)
    tiled = imgadapt.load("demosaic/conv", registry=registry, tile=tile)
    mos = rng.random((91, 77)).astype(np.float32)
    for pattern in imgadapt.PATTERNS:
        np.testing.assert_allclose(tiled(mos, pattern), whole(mos, pattern), atol=1e-6)


def test_tiled_equals_untiled_upscale(registry, rng):
    whole = imgadapt.load("sr/conv-x2", registry=registry, tile=0)
    tiled = imgadapt.load("sr/conv-x2", registry=registry, tile=20)
    img = rng.random((63, 45, 3)).astype(np.float32)
    np.testing.assert_allclose(tiled(img), whole(img), atol=1e-6)


def test_too_small_halo_is_detected(registry, rng):
    """The fixture's receptive field is 9: a halo of 2 must change the output (the test can fail)."""
    model = imgadapt.load("edges/conv", registry=registry, tile=0)
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


def test_bad_tile(registry):
    with pytest.raises(ValueError, match="tile: expected None or an integer >= 0"):
        imgadapt.load("demosaic/conv", registry=registry, tile=-4)
