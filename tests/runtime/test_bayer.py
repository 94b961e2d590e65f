import cv2
import numpy as np
import pytest

from imgadapt import bayer
from imgadapt.errors import UnknownNameError


def smooth_bgr(h=48, w=64):
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(3 * x), 0.5 + 0.4 * np.cos(2 * y), 0.3 + 0.5 * x * y], axis=2)
    return (img * 255).round().astype(np.uint8)


def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_opencv_code_matches_sensor_pattern(pattern):
    img = smooth_bgr()
    mos = bayer.mosaic(img, pattern)
    right = psnr(cv2.cvtColor(mos, bayer.opencv_code(pattern))[4:-4, 4:-4], img[4:-4, 4:-4])
    assert right > 35
    for other in set(bayer.PATTERNS) - {pattern}:
        wrong = psnr(cv2.cvtColor(mos, bayer.opencv_code(other))[4:-4, 4:-4], img[4:-4, 4:-4])
        assert wrong < right - 10


def test_rggb_is_opencv_bayer_bg():
    assert bayer.opencv_code("RGGB") == cv2.COLOR_BayerBG2BGR
    assert bayer.opencv_code("rggb", "VNG") == cv2.COLOR_BayerBG2BGR_VNG


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
@pytest.mark.parametrize("shape", [(6, 8), (7, 9), (2, 2), (3, 5)])
def test_align_to_rggb_reads_rggb(pattern, shape):
    colour = np.array([10, 20, 30], np.uint8)  # B, G, R
    mos = bayer.mosaic(np.broadcast_to(colour, shape + (3,)).copy(), pattern)
    padded, (top, left) = bayer.align_to_rggb(mos, pattern)
    assert padded.shape[0] % 2 == 0 and padded.shape[1] % 2 == 0
    np.testing.assert_array_equal(padded[0::2, 0::2], 30)
    np.testing.assert_array_equal(padded[1::2, 1::2], 10)
    np.testing.assert_array_equal(padded[0::2, 1::2], 20)
    np.testing.assert_array_equal(padded[top:top + shape[0], left:left + shape[1]], mos)


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_phase_shift_reproduces_opencv_per_pattern(pattern):
    """Shifting any pattern to RGGB and demosaicking as RGGB equals OpenCV's own code (interior)."""
    img = smooth_bgr(40, 50)
    mos = bayer.mosaic(img, pattern)
    padded, (top, left) = bayer.align_to_rggb(mos, pattern)
    via_rggb = cv2.cvtColor(padded, cv2.COLOR_BayerBG2BGR)[top:top + 40, left:left + 50]
    direct = cv2.cvtColor(mos, bayer.opencv_code(pattern))
    np.testing.assert_array_equal(via_rggb[2:-2, 2:-2], direct[2:-2, 2:-2])


def test_unknown_pattern():
    with pytest.raises(UnknownNameError, match=r"unknown Bayer pattern 'RGBG'.*expected one of RGGB"):
        bayer.check_pattern("RGBG")
