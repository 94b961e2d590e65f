import numpy as np
import pytest

from imgadapt._checks import check_choice, check_image, from_float, full_scale, to_float
from imgadapt.errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError, UnknownNameError


@pytest.mark.parametrize("dtype", [bool, np.int64, np.int32, np.complex64, np.float16, object])
def test_unsupported_dtypes_are_type_errors(dtype):
    with pytest.raises(InputDtypeError, match=r"expected dtype uint8, uint16, float32 or float64, got"):
        check_image(np.zeros((4, 4), dtype=dtype))


def test_not_an_array():
    with pytest.raises(TypeError, match="expected a numpy.ndarray, got list"):
        check_image([[0, 1], [2, 3]])


@pytest.mark.parametrize("shape,channels,match", [
    ((4,), (1, 3), "got 1-D"),
    ((2, 4, 4, 3), (1, 3), "got 4-D"),
    ((4, 4, 2), (1, 3), r"expected HxW or HxWx3, got shape \(4, 4, 2\)"),
    ((4, 4, 3), (1,), r"expected HxW, got shape \(4, 4, 3\)"),
    ((4, 4), (3,), "expected HxWx3, got a 2-D array"),
])
def test_wrong_shapes(shape, channels, match):
    with pytest.raises(InputShapeError, match=match):
        check_image(np.zeros(shape, np.uint8), channels=channels)


def test_empty_and_too_small():
    with pytest.raises(InputSizeError, match="non-empty"):
        check_image(np.zeros((0, 5), np.uint8))
    with pytest.raises(InputSizeError, match="at least 2x2 pixels, got 1x5"):
        check_image(np.zeros((1, 5), np.uint8), min_size=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad):
    x = np.zeros((3, 3), np.float32)
    x[1, 1] = bad
    with pytest.raises(InputValueError, match="finite"):
        check_image(x)


def test_errors_are_value_or_type_errors():
    assert issubclass(InputShapeError, ValueError) and issubclass(InputDtypeError, TypeError)
    assert issubclass(UnknownNameError, ValueError)


def test_any_strides_accepted():
    base = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    view = base[::2, ::-3]
    assert check_image(view) is view


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535)])
def test_float_round_trip(dtype, top, rng):
    x = rng.integers(0, top + 1, (5, 7), dtype=dtype)
    f = to_float(x)
    assert f.dtype == np.float32 and f.max() <= 1.0
    np.testing.assert_array_equal(from_float(f, dtype), x)


def test_white_level():
    x = np.array([[0, 4095, 2048]], np.uint16)
    f = to_float(x, white_level=4095)
    assert f[0, 1] == pytest.approx(1.0)
    np.testing.assert_array_equal(from_float(f, np.uint16, white_level=4095), x)
    assert from_float(np.array([[1.5]], np.float32), np.uint16, 4095)[0, 0] == 4095
    with pytest.raises(InputValueError, match=r"white_level: expected a number in \[1, 255\] for uint8"):
        to_float(np.zeros((2, 2), np.uint8), white_level=1000)
    with pytest.raises(InputDtypeError, match="integer data"):
        to_float(np.zeros((2, 2), np.float32), white_level=1.0)


def test_from_float_rounds_and_clips():
    out = from_float(np.array([[-0.2, 0.5, 1.3]], np.float32), np.uint8)
    np.testing.assert_array_equal(out, [[0, 128, 255]])


def test_unknown_choice_suggests():
    with pytest.raises(UnknownNameError, match=r"unknown colour 'gren'.*did you mean 'green'"):
        check_choice("gren", ["red", "green"], "colour")


def test_float_values_outside_unit_range():
    with pytest.raises(InputValueError, match=r"expected float values in \[0, 1\].*got values from 0 to 255"):
        check_image(np.array([[0.0, 255.0]], np.float32))
    check_image(np.array([[-5e-6, 1 + 5e-6]], np.float32))  # rounding noise passes
    ramp = np.array([[0.0, 19.0]])
    assert check_image(ramp, unit_range=False) is ramp  # measuring tools take any finite values
    with pytest.raises(InputValueError, match="finite"):
        check_image(np.array([[0.0, np.nan]]), unit_range=False)


@pytest.mark.parametrize("dtype,expected", [(np.uint8, 255.0), (np.uint16, 65535.0), (np.float32, 1.0),
                                            (np.float64, 1.0)])
def test_full_scale(dtype, expected):
    assert full_scale(dtype) == expected
