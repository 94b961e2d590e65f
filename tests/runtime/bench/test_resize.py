import cv2
import numpy as np
import pytest

from imgadapt.errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError
from imgadapt.bench.resize import cubic, downscale, modcrop


def smooth_image(rng, h=96, w=144, sigma=2.0):
    x = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.float64), (0, 0), sigma)
    return np.rint(255 * (x - x.min()) / (x.max() - x.min())).astype(np.uint8)


def test_cubic_kernel_values():
    np.testing.assert_allclose(cubic([0, 0.5, 1, 1.5, 2, 3]), [1, 0.5625, 0, -0.0625, 0, 0])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_constant_stays_constant_with_shape_and_dtype(dtype, scale):
    value = 0.3 if np.dtype(dtype).kind == "f" else 77
    image = np.full((12, 24, 3), value, dtype)
    out = downscale(image, scale)
    assert out.shape == (12 // scale, 24 // scale, 3) and out.dtype == dtype
    np.testing.assert_allclose(out, value, rtol=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_linear_ramp_stays_a_ramp_in_the_interior(scale):
    h, w = 8 * scale, 10 * scale
    ramp = np.tile(np.arange(w, dtype=np.float64), (h, 1))
    out = downscale(ramp, scale)
    inner = out[:, 2:-2]
    # output column i is centred on input position (i + 0.5) * scale - 0.5
    expected = (np.arange(w // scale) + 0.5) * scale - 0.5
    np.testing.assert_allclose(inner, np.broadcast_to(expected[2:-2], inner.shape), atol=1e-9)


def test_gray_and_noncontiguous_input(rng):
    image = smooth_image(rng)
    gray = image[..., 1]
    assert not gray.flags.c_contiguous
    np.testing.assert_array_equal(downscale(gray, 2), downscale(np.ascontiguousarray(image)[..., 1].copy(), 2))
    np.testing.assert_array_equal(downscale(image, 2)[..., 1], downscale(gray, 2))


def test_integers_rounded_and_clipped():
    image = np.zeros((16, 16), np.uint8)
    image[:, 8:] = 255  # a hard edge overshoots on both sides with a = -0.5
    out = downscale(image, 2)
    ref = downscale(image.astype(np.float64), 2)
    assert ref.min() < 0 and ref.max() > 255
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 255))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_pillow_bicubic_in_the_interior(rng, scale):
    Image = pytest.importorskip("PIL.Image")
    image = smooth_image(rng)
    h, w = image.shape[:2]
    ours = downscale(image, scale).astype(int)
    pil = np.asarray(Image.fromarray(image).resize((w // scale, h // scale), Image.BICUBIC)).astype(int)
    # PIL truncates the kernel at the border (MATLAB extends symmetrically) and rounds to 8 bits
    # between its two passes; the interior agrees within one grey level, with no offset
    diff = (ours - pil)[3:-3, 3:-3]
    assert np.abs(diff).max() <= 1
    assert abs(diff.mean()) < 0.05


def test_modcrop():
    image = np.arange(10 * 11 * 3, dtype=np.uint16).reshape(10, 11, 3)
    out = modcrop(image, 3)
    assert out.shape == (9, 9, 3)
    np.testing.assert_array_equal(out, image[:9, :9])
    assert modcrop(image, 1).shape == image.shape


@pytest.mark.parametrize("scale", [0, -2, 2.0, 1.5, True, "2", None])
def test_bad_scale_raises(scale):
    with pytest.raises(InputValueError, match="scale: expected an integer >= 1"):
        downscale(np.zeros((8, 8), np.uint8), scale)
    with pytest.raises(ValueError):
        modcrop(np.zeros((8, 8), np.uint8), scale)


def test_bad_images_raise():
    with pytest.raises(InputSizeError, match="multiples of scale 3"):
        downscale(np.zeros((10, 9), np.uint8), 3)
    with pytest.raises(InputSizeError, match="at least 4x4"):
        modcrop(np.zeros((3, 9), np.uint8), 4)
    with pytest.raises(InputDtypeError):
        downscale(np.zeros((8, 8), np.int64), 2)
    with pytest.raises(InputShapeError):
        downscale(np.zeros((8, 8, 2), np.uint8), 2)
    with pytest.raises(InputValueError):
        downscale(np.full((8, 8), np.nan, np.float32), 2)


def test_one_megapixel_is_fast(rng):
    import time

    image = rng.integers(0, 256, (1000, 1000, 3)).astype(np.uint8)
    start = time.perf_counter()
    downscale(image, 4)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("scale, h, w", [(4, 4, 8), (3, 3, 3), (2, 10, 6), (5, 5, 15)])
def test_borders_extend_symmetrically_even_past_a_tiny_image(scale, h, w):
    """Reference: each output pixel gathers its taps at input indices mapped onto the image by
    symmetric extension (... 1 0 | 0 1 ... n-1 | n-1 n-2 ...), repeated as often as needed."""
    from imgadapt.bench.resize import _taps

    def symmetric(i, n):
        i = np.mod(i, 2 * n)
        return np.where(i < n, i, 2 * n - 1 - i)

    offsets, weights = _taps(scale)
    image = np.random.default_rng(scale).random((h, w))
    rows = sum(wt * image[symmetric(np.arange(h // scale) * scale + t, h)] for t, wt in zip(offsets, weights))
    expected = sum(wt * rows[:, symmetric(np.arange(w // scale) * scale + t, w)] for t, wt in zip(offsets, weights))
    np.testing.assert_allclose(downscale(image, scale), expected, rtol=0, atol=1e-12)
