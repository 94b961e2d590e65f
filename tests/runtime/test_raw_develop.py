"""imgadapt.raw.develop on DNG files made from known images: black/white scaling, white balance,
camera matrix, highlight clipping, transfer curve, orientation; quality next to LibRaw AHD."""
import numpy as np
import pytest

import imgadapt
from imgadapt import _bayer, _colour, raw
from imgadapt._errors import InputDtypeError, InputValueError, UnknownNameError
from imgadapt._metrics import psnr
from imgadapt._registry import Registry

rawpy = pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")
pytestmark = pytest.mark.skipif(not Registry().list("demosaic"), reason="no shipped demosaicking model")

CAMERA_MATRIX = np.array([[0.90, -0.25, -0.08], [-0.40, 1.25, 0.12], [-0.05, 0.18, 0.62]])
LINEAR = {"wb": "none", "colorspace": "raw", "gamma": "linear"}


@pytest.fixture(scope="module")
def model():
    return imgadapt.load(None, task="demosaic", threads=1)


@pytest.mark.parametrize("pattern", _bayer.PATTERNS)
def test_linear_output_is_the_scaled_sensor_data_demosaicked(tmp_path, dng, model, pattern):
    scene = dng.scene(64, 96)
    dng.write(tmp_path / "a.dng", scene, pattern, black=(500, 510, 520, 530), white=16383)
    out = raw.develop(raw.read(tmp_path / "a.dng"), model, **LINEAR)
    assert out.shape == (64, 96, 3) and out.dtype == np.float32
    # Reference from the known image: its ideal [0, 1] mosaic, demosaicked by the same model.
    reference = model(_bayer.mosaic(scene, pattern).astype(np.float32), pattern=pattern)
    # The file holds 14-bit samples, so a pixel-adaptive model may pick another kernel here and there.
    error = np.abs(out - reference)
    assert error.mean() < 1e-4 and np.quantile(error, 0.999) < 2e-3, (error.mean(), error.max())
    assert psnr(out, scene.astype(np.float32), crop=4) > 32


def test_camera_white_balance_and_matrix_recover_the_scene(tmp_path, dng, model):
    srgb = dng.scene(64, 96, lo=0.1, hi=0.7)  # linear sRGB, BGR
    cam_rgb = np.linalg.inv(_colour.camera_to_srgb(CAMERA_MATRIX))  # sRGB -> white-balanced camera RGB
    camera = (srgb[..., ::-1] @ cam_rgb.T)[..., ::-1]
    neutral = np.array([0.5, 1.0, 0.7])  # camera response to white: raw = balanced * neutral
    sensor = camera * neutral[::-1]
    assert 0 < sensor.min() and sensor.max() < 1
    dng.write(tmp_path / "a.dng", sensor, "GRBG", black=256, white=16383, neutral=neutral, matrix=CAMERA_MATRIX)
    image = raw.read(tmp_path / "a.dng")
    out = raw.develop(image, model, wb="camera", colorspace="srgb", gamma="linear")
    assert psnr(out, srgb.astype(np.float32), crop=4) > 32
    # Given multipliers are the same thing as the recorded ones.
    given = raw.develop(image, model, wb=tuple(1 / neutral), colorspace="srgb", gamma="linear")
    np.testing.assert_allclose(given, out, atol=1e-5)
    # Without white balance the scene is tinted: the test would notice a skipped step.
    assert psnr(raw.develop(image, model, wb="none", colorspace="srgb", gamma="linear"), srgb.astype(np.float32)) < 25


def test_clipped_highlights_stay_neutral(tmp_path, dng, model):
    scene = dng.scene(64, 96, lo=0.1, hi=0.4)
    scene[16:48, 24:72] = 1.0  # every site saturated
    dng.write(tmp_path / "a.dng", scene, "RGGB", black=512, white=16383, neutral=(0.5, 1.0, 0.7),
              matrix=CAMERA_MATRIX)
    image = raw.read(tmp_path / "a.dng")
    for colorspace in ("raw", "srgb"):
        block = raw.develop(image, model, wb="camera", colorspace=colorspace, gamma="linear")[20:44, 28:68]
        np.testing.assert_allclose(block, 1.0, atol=2e-3)  # white, up to the model's flat-field accuracy
        assert np.ptp(block, axis=2).max() < 1e-3  # and neutral


def test_srgb_transfer_curve_and_dtypes(tmp_path, dng, model):
    dng.write(tmp_path / "a.dng", dng.scene(64, 96))
    image = raw.read(tmp_path / "a.dng")
    linear = raw.develop(image, model, wb="daylight", gamma="linear")
    encoded = raw.develop(image, model, wb="daylight", gamma="srgb")
    np.testing.assert_allclose(encoded, _colour.srgb_encode(linear), atol=1e-6)
    assert encoded.mean() > linear.mean()
    u16 = raw.develop(image, model, wb="daylight", dtype="uint16")
    u8 = raw.develop(image, model, wb="daylight", dtype=np.uint8)
    assert u16.dtype == np.uint16 and u8.dtype == np.uint8
    assert np.abs(u16.astype(np.float64) - np.rint(encoded * 65535)).max() <= 1
    assert np.abs(u8.astype(np.float64) - np.rint(encoded * 255)).max() <= 1
    np.testing.assert_array_equal(raw.develop(tmp_path / "a.dng", model, wb="daylight", dtype="uint16"), u16)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_as_libraw_turns_it(tmp_path, dng, model, orientation):
    scene = dng.scene(48, 80, lo=0.02, hi=0.3)
    scene[4:14, 6:40] = 0.95  # a bright bar near the top-left corner of the sensor
    dng.write(tmp_path / "a.dng", scene, "RGGB", black=0, white=65535, orientation=orientation)
    ours = raw.develop(raw.read(tmp_path / "a.dng"), model, **LINEAR)
    with rawpy.imread(str(tmp_path / "a.dng")) as r:
        theirs = r.postprocess(output_bps=16, gamma=(1, 1), no_auto_bright=True, use_camera_wb=False,
                               user_wb=[1.0, 1.0, 1.0, 1.0], output_color=rawpy.ColorSpace.raw,
                               adjust_maximum_thr=0.0)[..., ::-1]
    assert ours.shape == theirs.shape
    assert psnr(ours, theirs.astype(np.float32) / 65535, crop=2) > 30
    unturned = raw.develop(raw.read(tmp_path / "a.dng"), model, orient=False, **LINEAR)
    turned = {1: unturned, 3: unturned[::-1, ::-1], 6: np.rot90(unturned, -1), 8: np.rot90(unturned, 1)}
    np.testing.assert_array_equal(ours, turned[orientation])


def test_bad_development_arguments_say_what_was_expected(tmp_path, dng, model, rng):
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    image = raw.read(tmp_path / "a.dng")
    with pytest.raises(UnknownNameError, match="tungsten"):
        raw.develop(image, model, wb="tungsten")
    with pytest.raises(InputValueError, match="3 positive multipliers"):
        raw.develop(image, model, wb=(1.0, 2.0))
    with pytest.raises(UnknownNameError, match="colour space"):
        raw.develop(image, model, colorspace="adobe")
    with pytest.raises(InputDtypeError, match="float32, uint8 or uint16"):
        raw.develop(image, model, dtype=np.float64)
    np.save(tmp_path / "m.npy", rng.integers(0, 255, (20, 30)).astype(np.uint8))
    plain = raw.read(tmp_path / "m.npy", pattern="RGGB")
    with pytest.raises(InputValueError, match="records none"):
        raw.develop(plain, model)
    with pytest.raises(InputValueError, match="colour matrix"):
        raw.develop(plain, model, wb="none")
    assert raw.develop(plain, model, **LINEAR).shape == (20, 30, 3)


def test_linear_16_bit_beats_libraw_ahd_on_the_same_files(tmp_path, dng, model):
    """The acceptance figure, on the natural image in the repository (as stored and linearised):
    ground-truth PSNR of linear 16-bit output, ours above LibRaw AHD's on the same DNG files."""
    ours, ahd = [], []
    for k, scene in enumerate((dng.sample(), dng.sample() ** 2.2)):
        path = tmp_path / f"s{k}.dng"
        dng.write(path, scene, "RGGB", black=512, white=16383)
        truth = scene * 65535
        ours.append(psnr(raw.develop(raw.read(path), model, dtype="uint16", **LINEAR), truth, crop=8, peak=65535))
        with rawpy.imread(str(path)) as r:
            rgb = r.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD, output_bps=16, gamma=(1, 1),
                                no_auto_bright=True, use_camera_wb=False, user_wb=[1.0, 1.0, 1.0, 1.0],
                                output_color=rawpy.ColorSpace.raw, adjust_maximum_thr=0.0)
        ahd.append(psnr(rgb[..., ::-1], truth, crop=8, peak=65535))
    assert np.mean(ours) > np.mean(ahd), (ours, ahd)
