import math

import numpy as np
import pytest

from imgadapt.bench import metrics
from imgadapt.errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError


def test_psnr_hand_computed_uint8():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[1, 2] = 16  # MSE = 256 / 16 = 16
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 16))
    assert metrics.mse(a, b) == pytest.approx(16.0)


def test_psnr_over_all_channels_and_no_overflow():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 255, np.uint8)  # uint8 subtraction would wrap; float64 must not
    assert metrics.psnr(a, b) == pytest.approx(0.0)
    b = a.copy()
    b[0, 0, 1] = 255  # one sample of 12 at full scale: MSE = 255^2 / 12
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(12))
    assert metrics.rgb_psnr(a, b) == metrics.psnr(a, b)


def test_psnr_peak_from_dtype_and_explicit():
    a16 = np.zeros((3, 3), np.uint16)
    b16 = np.full((3, 3), 655, np.uint16)
    assert metrics.psnr(a16, b16) == pytest.approx(20 * math.log10(65535 / 655))
    af = np.zeros((3, 3), np.float32)
    bf = np.full((3, 3), 0.1, np.float64)
    with pytest.raises(InputDtypeError):
        metrics.psnr(af, bf)  # different dtypes need an explicit peak
    assert metrics.psnr(af, bf, peak=1.0) == pytest.approx(20.0, abs=1e-5)
    assert metrics.psnr(bf, bf * 0) == pytest.approx(20.0)
    assert metrics.psnr(a16, b16, peak=6550) == pytest.approx(20.0, abs=1e-3)


def test_psnr_identical_is_inf_and_crop_removes_borders():
    a = np.full((6, 7, 3), 100, np.uint8)
    assert metrics.psnr(a, a) == math.inf
    b = a.copy()
    b[0, :] = 0
    b[:, -2:] = 0
    assert metrics.psnr(a, b, crop=1) < 40
    assert metrics.psnr(a, b, crop=2) == math.inf
    c = a.copy()
    c[3, 3] = 110  # 1 of the 2x3 interior pixels differs by 10 in every channel: MSE = 100 / 6
    assert metrics.psnr(a, c, crop=2) == pytest.approx(10 * math.log10(255 ** 2 * 6 / 100))


def test_y_psnr_hand_computed():
    black = np.zeros((4, 4, 3), np.uint8)
    white = np.full((4, 4, 3), 255, np.uint8)
    np.testing.assert_allclose(metrics.bgr_to_y(black), 16.0)
    np.testing.assert_allclose(metrics.bgr_to_y(white), 235.0, atol=1e-9)
    assert metrics.y_psnr(black, white) == pytest.approx(20 * math.log10(255 / 219), abs=1e-6)
    red = black.copy()
    red[..., 2] = 255  # BGR: channel 2 is red, Y moves by 65.481
    assert metrics.y_psnr(black, red) == pytest.approx(20 * math.log10(255 / 65.481))
    blue = black.copy()
    blue[..., 0] = 255
    assert metrics.y_psnr(black, blue) == pytest.approx(20 * math.log10(255 / 24.966))
    # uint16 and float images are read on [0, 1] and compared on the same 8-bit Y scale
    assert metrics.y_psnr(black.astype(np.uint16), red.astype(np.uint16) * 257) == pytest.approx(
        metrics.y_psnr(black, red))
    assert metrics.y_psnr(black / 255.0, red / 255.0) == pytest.approx(metrics.y_psnr(black, red))


def test_y_psnr_crop():
    a = np.full((8, 8, 3), 50, np.uint8)
    b = a.copy()
    b[:2] = 0
    assert metrics.y_psnr(a, b, crop=2) == math.inf
    assert metrics.y_psnr(a, b, crop=1) < 40


def test_errors_are_typed_and_say_what_arrived():
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(InputShapeError, match=r"\(4, 4, 3\).*\(4, 5, 3\)"):
        metrics.psnr(a, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(InputShapeError):
        metrics.rgb_psnr(a[..., 0], a[..., 0])
    with pytest.raises(InputShapeError):
        metrics.y_psnr(a[..., :2], a[..., :2])
    with pytest.raises(InputShapeError):
        metrics.psnr(np.zeros(5, np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(InputDtypeError):
        metrics.psnr(a.astype(np.int64), a.astype(np.int64))
    with pytest.raises(InputDtypeError):
        metrics.psnr(a.tolist(), a)
    with pytest.raises(InputDtypeError):
        metrics.y_psnr(a, a.astype(np.uint16))
    with pytest.raises(InputSizeError):
        metrics.psnr(a, a, crop=2)
    with pytest.raises(InputValueError):
        metrics.psnr(a, a, crop=-1)
    with pytest.raises(InputValueError):
        metrics.psnr(a, a, peak=0)
    with pytest.raises(ValueError):  # typed errors stay ValueError / TypeError subclasses
        metrics.psnr(a, a[:2])


def test_mean_psnr_is_mean_of_per_image_values():
    assert metrics.mean_psnr([30.0, 40.0]) == pytest.approx(35.0)
    assert metrics.mean_psnr(np.array([33.0])) == 33.0
    with pytest.raises(InputSizeError):
        metrics.mean_psnr([])
