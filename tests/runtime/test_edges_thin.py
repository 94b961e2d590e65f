"""``imgadapt.edges(thin=True)``, its non-maximum suppression and the ``imgadapt edges`` command."""
import numpy as np
import pytest

import imgadapt
from imgadapt import cli
from imgadapt._io import read_array, write_array
from imgadapt._nms import thin_edges


def ring(size=96, radius=30.0, width=1.5, centre=(45.8, 47.3)):
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(y - centre[0], x - centre[1])
    return np.exp(-(r - radius) ** 2 / (2 * width ** 2)).astype(np.float32), r


@pytest.mark.parametrize("width", [0.7, 1.5, 3.0])
def test_nms_keeps_a_one_pixel_wide_closed_ring(width):
    prob, r = ring(width=width)
    edges = thin_edges(prob)
    assert edges.dtype == np.uint8 and edges.shape == prob.shape and set(np.unique(edges)) == {0, 255}
    on = edges > 0
    assert np.abs(r[on] - 30).max() <= 1.0  # on the ridge
    assert not (on[:-1, :-1] & on[1:, :-1] & on[:-1, 1:] & on[1:, 1:]).any()  # never two pixels thick
    angles = np.degrees(np.arctan2(*np.nonzero(on) - np.array([[45.8], [47.3]])))
    assert len(np.unique(np.floor(angles / 5))) == 72  # closed: every 5-degree sector has pixels


def test_nms_threshold_and_parallel_edges():
    x = np.arange(64)[None, :].repeat(32, 0)
    prob = np.maximum(np.exp(-(x - 20) ** 2 / 2.0), 0.4 * np.exp(-(x - 26) ** 2 / 2.0)).astype(np.float32)
    assert np.unique(np.nonzero(thin_edges(prob))[1]).tolist() == [20]
    assert np.unique(np.nonzero(thin_edges(prob, threshold=0.3))[1]).tolist() == [20, 26]
    assert not thin_edges(np.full((8, 8), 0.9, np.float32)).any()  # a plateau has no ridge


def disc(h=48, w=64):
    y, x = np.mgrid[0:h, 0:w]
    return np.where(np.hypot(y - 24, x - 30) < 14, 200, 40).astype(np.uint8)


def test_edges_thin_through_the_api(installed):
    image = disc()
    prob = imgadapt.edges(image)
    thin = imgadapt.edges(image, thin=True, threshold=0.3)
    assert prob.dtype == np.float32 and thin.dtype == np.uint8 and thin.shape == image.shape
    assert set(np.unique(thin)) <= {0, 255}
    assert (prob[thin > 0] >= 0.3).all()
    bgr = imgadapt.edges(np.dstack([image] * 3), thin=True)
    assert bgr.shape == image.shape and bgr.dtype == np.uint8


@pytest.mark.parametrize("kwargs, error, message", [
    ({"thin": "yes"}, imgadapt.InputDtypeError, "thin: expected a bool"),
    ({"thin": True, "threshold": 0.0}, imgadapt.InputValueError, r"threshold: expected a number in \(0, 1\]"),
    ({"thin": True, "threshold": 1.5}, imgadapt.InputValueError, "got 1.5"),
    ({"thin": True, "threshold": "0.5"}, imgadapt.InputDtypeError, "got str"),
])
def test_edges_bad_arguments(installed, kwargs, error, message):
    with pytest.raises(error, match=message):
        imgadapt.edges(disc(), **kwargs)


@pytest.mark.parametrize("image, error", [
    (np.zeros((8, 8, 4), np.uint8), imgadapt.InputShapeError),
    (np.zeros((8, 8), bool), imgadapt.InputDtypeError),
    (np.full((8, 8), np.nan, np.float32), imgadapt.InputValueError),
])
def test_edges_thin_bad_images(installed, image, error):
    with pytest.raises(error):
        imgadapt.edges(image, thin=True)


def test_edges_command(installed, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_array(src / "d.png", disc())
    write_array(src / "c.png", np.dstack([disc(20, 30)] * 3))
    out = tmp_path / "out"
    assert cli.main(["edges", str(src), "-o", str(out)]) == 0
    prob = read_array(out / "d.png")
    assert prob.dtype == np.uint16 and prob.shape == (48, 64)
    np.testing.assert_allclose(prob / 65535, imgadapt.edges(disc()), atol=1 / 65535)
    assert read_array(out / "c.png").shape == (20, 30)
    assert cli.main(["edges", str(src / "d.png"), "-o", str(tmp_path / "p8.png"), "--bits", "8"]) == 0
    assert read_array(tmp_path / "p8.png").dtype == np.uint8
    assert cli.main(["edges", str(src / "d.png"), "-o", str(tmp_path / "t.png"), "--thin", "--threshold", "0.3"]) == 0
    np.testing.assert_array_equal(read_array(tmp_path / "t.png"), imgadapt.edges(disc(), thin=True, threshold=0.3))
    assert cli.main(["edges", str(src / "d.png"), "-o", str(tmp_path / "x.png"), "--threshold", "2"]) == 2
    assert cli.main(["edges", str(src / "d.png"), "-o", str(tmp_path / "y.png"), "--model", "nope"]) == 2
