"""imgadapt.raw.develop on DNG files made from known images: black/white scaling, white balance,
camera matrix, highlight clipping, transfer curve, orientation; quality next to LibRaw AHD;
exposure (LibRaw's automatic brightness, fixed EV) and the highlight modes."""
import cv2
import numpy as np
import pytest

import imgadapt
from imgadapt import bayer, raw
from imgadapt.raw import colour
from imgadapt.errors import InputDtypeError, InputValueError, UnknownNameError
from imgadapt.bench.metrics import psnr
from imgadapt._registry import Registry

rawpy = pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")
pytestmark = pytest.mark.skipif(not Registry().list("demosaic"), reason="no shipped demosaicking model")

CAMERA_MATRIX = np.array([[0.90, -0.25, -0.08], [-0.40, 1.25, 0.12], [-0.05, 0.18, 0.62]])
LINEAR = {"wb": "none", "colorspace": "raw", "gamma": "linear", "exposure": 0}


@pytest.fixture(scope="module")
def model():
    return imgadapt.load(None, task="demosaic", threads=1)


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_linear_output_is_the_scaled_sensor_data_demosaicked(tmp_path, dng, model, pattern):
    # below 75 % of white: a flat disc at the brightest level above that would count as clipped
    scene = dng.scene(64, 96, hi=0.7)
    dng.write(tmp_path / "a.dng", scene, pattern, black=(500, 510, 520, 530), white=16383)
    out = raw.develop(raw.read(tmp_path / "a.dng"), model, **LINEAR)
    assert out.shape == (64, 96, 3) and out.dtype == np.float32
    # Reference from the known image: its ideal [0, 1] mosaic, demosaicked by the same model.
    reference = model(bayer.mosaic(scene, pattern).astype(np.float32), pattern=pattern)
    # The file holds 14-bit samples, so a pixel-adaptive model may pick another kernel here and there.
    error = np.abs(out - reference)
    assert error.mean() < 1e-4 and np.quantile(error, 0.999) < 2e-3, (error.mean(), error.max())
    assert psnr(out, scene.astype(np.float32), crop=4) > 32


def test_camera_white_balance_and_matrix_recover_the_scene(tmp_path, dng, model):
    srgb = dng.scene(64, 96, lo=0.1, hi=0.7)  # linear sRGB, BGR
    cam_rgb = np.linalg.inv(colour.camera_to_srgb(CAMERA_MATRIX))  # sRGB -> white-balanced camera RGB
    camera = (srgb[..., ::-1] @ cam_rgb.T)[..., ::-1]
    neutral = np.array([0.5, 1.0, 0.7])  # camera response to white: raw = balanced * neutral
    sensor = camera * neutral[::-1]
    assert 0 < sensor.min() and sensor.max() < 1
    dng.write(tmp_path / "a.dng", sensor, "GRBG", black=256, white=16383, neutral=neutral, matrix=CAMERA_MATRIX)
    image = raw.read(tmp_path / "a.dng")
    out = raw.develop(image, model, wb="camera", colorspace="srgb", gamma="linear", exposure=0)
    assert psnr(out, srgb.astype(np.float32), crop=4) > 32
    # Given multipliers are the same thing as the recorded ones.
    given = raw.develop(image, model, wb=tuple(1 / neutral), colorspace="srgb", gamma="linear", exposure=0)
    np.testing.assert_allclose(given, out, atol=1e-5)
    # Without white balance the scene is tinted: the test would notice a skipped step.
    assert psnr(raw.develop(image, model, wb="none", colorspace="srgb", gamma="linear", exposure=0),
                srgb.astype(np.float32)) < 25


def test_clipped_highlights_stay_neutral(tmp_path, dng, model):
    scene = dng.scene(64, 96, lo=0.1, hi=0.4)
    scene[16:48, 24:72] = 1.0  # every site saturated
    dng.write(tmp_path / "a.dng", scene, "RGGB", black=512, white=16383, neutral=(0.5, 1.0, 0.7),
              matrix=CAMERA_MATRIX)
    image = raw.read(tmp_path / "a.dng")
    for colorspace in ("raw", "srgb"):
        block = raw.develop(image, model, wb="camera", colorspace=colorspace, gamma="linear", exposure=0)[20:44, 28:68]
        np.testing.assert_allclose(block, 1.0, atol=2e-3)  # white, up to the model's flat-field accuracy
        assert np.ptp(block, axis=2).max() < 1e-3  # and neutral


def test_srgb_transfer_curve_and_dtypes(tmp_path, dng, model):
    dng.write(tmp_path / "a.dng", dng.scene(64, 96))
    image = raw.read(tmp_path / "a.dng")
    linear = raw.develop(image, model, wb="daylight", exposure=0, gamma="linear")
    encoded = raw.develop(image, model, wb="daylight", exposure=0, gamma="srgb")
    np.testing.assert_allclose(encoded, colour.srgb_encode(linear), atol=1e-6)
    assert encoded.mean() > linear.mean()
    u16 = raw.develop(image, model, wb="daylight", exposure=0, dtype="uint16")
    u8 = raw.develop(image, model, wb="daylight", exposure=0, dtype=np.uint8)
    assert u16.dtype == np.uint16 and u8.dtype == np.uint8
    # integer output is made from 16-bit linear values, as LibRaw makes it: a few levels of 65535
    error16 = np.abs(u16.astype(np.float64) - np.rint(encoded * 65535))
    assert error16.max() <= 4 and error16.mean() < 0.5, (error16.max(), error16.mean())
    assert np.abs(u8.astype(np.float64) - np.rint(encoded * 255)).max() <= 1
    np.testing.assert_array_equal(raw.develop(tmp_path / "a.dng", model, wb="daylight", exposure=0, dtype="uint16"),
                                  u16)


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


def _libraw(path, **kw):
    with rawpy.imread(str(path)) as r:
        return r.postprocess(**{"output_bps": 16, "use_camera_wb": True, **kw})[..., ::-1].astype(np.float64) / 65535


def test_auto_exposure_is_libraws_percentile_rule(tmp_path, dng, model):
    """Linear output: the gain takes the level that 1 % of the pixels exceed, in the brightest
    channel, to white (LibRaw's auto_bright_thr=0.01), and LibRaw's automatic brightness agrees."""
    path = tmp_path / "a.dng"
    dng.write(path, dng.scene(96, 128, lo=0.02, hi=0.3), "RGGB", black=512, white=16383, neutral=(0.5, 1, 0.7))
    image = raw.read(path)
    sensor = raw.develop(image, model, gamma="linear", exposure=0)
    level = max(np.quantile(sensor[..., c], 0.99) for c in range(3))
    auto = raw.develop(image, model, gamma="linear")
    np.testing.assert_allclose(auto, np.minimum(sensor / level, 1.0), atol=0.01)
    theirs = _libraw(path, gamma=(1, 1))
    assert abs(auto.mean() / theirs.mean() - 1) < 0.03, (auto.mean(), theirs.mean())


def test_default_brightness_is_libraws_default_development(tmp_path, dng, model):
    """sRGB output: the mean level of LibRaw's default development (its automatic brightness and
    its BT.709-like curve), within 3 %; 16-bit PNG as 'imgadapt convert' writes it by default."""
    for k, (lo, hi) in enumerate(((0.02, 0.3), (0.005, 0.08), (0.1, 1.4))):  # the last one clipped
        path = tmp_path / f"s{k}.dng"
        dng.write(path, np.minimum(dng.scene(96, 128, lo=lo, hi=hi, seed=k), 1.0), "GRBG", black=256, white=16383,
                  neutral=(0.5, 1, 0.7))
        ours = raw.develop(raw.read(path), model, dtype="uint16").astype(np.float64) / 65535
        theirs = _libraw(path)
        assert abs(ours.mean() / theirs.mean() - 1) < 0.03, (k, ours.mean(), theirs.mean())
        sensor = raw.develop(raw.read(path), model, dtype="uint16", exposure=0).astype(np.float64) / 65535
        assert (ours >= sensor - 2 / 65535).all()  # never darker than the sensor's scale: white stays white


def test_fixed_exposure_scales_the_sensor_data(tmp_path, dng, model):
    path = tmp_path / "a.dng"
    dng.write(path, dng.scene(64, 96, lo=0.05, hi=0.45), "BGGR", black=512, white=16383)
    image = raw.read(path)
    zero = raw.develop(image, model, **LINEAR)
    np.testing.assert_allclose(raw.develop(image, model, **{**LINEAR, "exposure": -1}), zero / 2, atol=1e-5)
    np.testing.assert_allclose(raw.develop(image, model, **{**LINEAR, "exposure": 1.5}),
                               np.minimum(zero * 2 ** 1.5, 1.0), atol=1e-5)
    # EV 0 is the sensor's scale, as LibRaw's no_auto_bright (without its maximum adjustment)
    theirs = _libraw(path, gamma=(1, 1), no_auto_bright=True, user_wb=[1, 1, 1, 1], use_camera_wb=False,
                     output_color=rawpy.ColorSpace.raw, adjust_maximum_thr=0.0)
    assert psnr(zero, theirs.astype(np.float32), crop=4) > 35


@pytest.mark.parametrize("exposure, error", [("bright", UnknownNameError), (True, InputDtypeError),
                                             (None, InputDtypeError), (float("nan"), InputValueError),
                                             (30, InputValueError), (-30, InputValueError)])
def test_bad_exposures_say_what_was_expected(tmp_path, dng, model, exposure, error):
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))
    with pytest.raises(error, match="exposure"):
        raw.develop(raw.read(tmp_path / "a.dng"), model, exposure=exposure)


def _highlight_scene():
    """A warm highlight whose red and green clip on the sensor (blue does not), on a darker scene;
    returns (white-balanced camera RGB, BGR, unclipped; the sensor's view; the camera's neutral)."""
    from tests._raw_files import linear_scene

    h, w = 96, 128
    base = linear_scene(h, w, lo=0.05, hi=0.4)
    y, x = np.mgrid[0:h, 0:w]
    blob = np.exp(-((x - 64) ** 2 + (y - 48) ** 2) / (2 * 16.0 ** 2))
    balanced = base + 2.4 * blob[..., None] * np.array([0.35, 0.75, 1.0])  # BGR
    neutral = np.array([0.5, 1.0, 0.7])  # RGB: the camera's response to white
    return balanced, balanced * neutral[::-1], neutral


def test_highlight_modes_on_a_clipped_highlight(tmp_path, dng, model):
    """Choice of default: ``clip``. At -1.5 EV (where the scene fits) ``reconstruct`` recovers the
    clipped channels from blue with the highlight's colour around it, ``blend`` keeps the hue of
    the clipped values, ``clip`` makes them neutral; away from the highlight all three agree. At
    the default exposure (more than 1 % of pixels clipped: gain 1) they agree within 0.01."""
    balanced, sensor, neutral = _highlight_scene()
    path = tmp_path / "h.dng"
    dng.write(path, np.minimum(sensor, 1.0), "RGGB", black=512, white=16383, neutral=tuple(neutral))
    image = raw.read(path)
    clipped = (sensor >= 1).any(axis=2)
    assert 0.05 < clipped.mean() < 0.2 and not (sensor >= 1).all(axis=2).any()
    truth = np.clip(balanced * 2 ** -1.5, 0, 1)
    errors = {}
    outputs = {}
    for mode in raw.HIGHLIGHTS:
        outputs[mode] = raw.develop(image, model, gamma="linear", exposure=-1.5, highlights=mode)
        errors[mode] = np.abs(outputs[mode] - truth)[clipped].mean()
    assert errors["reconstruct"] < 0.5 * errors["blend"] < 0.5 * errors["clip"], errors
    far = ~cv2.dilate(clipped.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    for mode in ("blend", "reconstruct"):
        # (the model sees the mosaic at another scale there, and a pixel-adaptive one may pick
        # other kernels here and there)
        away = np.abs(outputs[mode][far] - outputs["clip"][far])
        assert away.mean() < 5e-4 and np.quantile(away, 0.99) < 2e-3, (mode, away.mean(), away.max())
        default = raw.develop(image, model, gamma="linear", highlights=mode)
        assert np.abs(default - raw.develop(image, model, gamma="linear")).mean() < 0.01


@pytest.mark.parametrize("mode", ["blend", "reconstruct"])
def test_fully_blown_highlights_stay_white_in_every_mode(tmp_path, dng, model, mode):
    scene = dng.scene(64, 96, lo=0.1, hi=0.4)
    scene[16:48, 24:72] = 1.0  # every site saturated
    dng.write(tmp_path / "a.dng", scene, "RGGB", black=512, white=16383, neutral=(0.5, 1.0, 0.7),
              matrix=CAMERA_MATRIX)
    block = raw.develop(raw.read(tmp_path / "a.dng"), model, gamma="linear", exposure=0,
                        highlights=mode)[20:44, 28:68]
    np.testing.assert_allclose(block, 1.0, atol=2e-3)


def test_bad_highlight_mode_is_named(tmp_path, dng, model):
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))
    with pytest.raises(UnknownNameError, match="highlights"):
        raw.develop(raw.read(tmp_path / "a.dng"), model, highlights="unclip")


def test_a_sensor_clipping_below_its_white_level_still_gives_neutral_highlights(tmp_path, dng, model):
    """Saturated samples at 90 % of the recorded white level (a plateau there): clipped at that
    level after white balance, so neutral, and white at the default exposure. A bright image
    whose largest value is a lone peak is not taken for a clipped one."""
    scene = dng.scene(64, 96, lo=0.1, hi=0.4)
    neutral = np.array([0.5, 1.0, 0.7])
    sensor = scene * neutral[::-1]
    sensor[16:48, 24:72] = 0.9  # every site saturated, below the white level
    dng.write(tmp_path / "a.dng", sensor, "RGGB", black=512, white=16383, neutral=tuple(neutral))
    image = raw.read(tmp_path / "a.dng")
    assert raw.saturation(image) == pytest.approx(0.9, abs=2e-3)
    block = raw.develop(image, model, colorspace="raw", gamma="linear", exposure=0)[20:44, 28:68]
    assert np.ptp(block, axis=2).max() < 2e-3 and block.mean() == pytest.approx(0.9, abs=3e-3)
    white = raw.develop(image, model, colorspace="raw", gamma="linear")[20:44, 28:68]
    np.testing.assert_allclose(white, 1.0, atol=3e-3)
    y, x = np.mgrid[0:64, 0:96]
    peak = 0.1 + 0.75 * np.exp(-((x - 40) ** 2 + (y - 30) ** 2) / 200.0)
    dng.write(tmp_path / "b.dng", np.repeat(peak[..., None], 3, axis=2), "RGGB", black=512, white=16383)
    assert raw.saturation(raw.read(tmp_path / "b.dng")) == 1.0


def test_profile_times_every_stage_next_to_libraw(tmp_path, dng, model):
    from imgadapt.raw import profile

    path = tmp_path / "a.dng"
    dng.write(path, dng.scene(64, 96), "RGGB", black=512, white=16383, neutral=(0.5, 1, 0.7))
    result = profile.profile_file(str(path), model, repeats=1)
    seconds = result["seconds"]
    for name in ("libraw imread+postprocess", "libraw postprocess", "imgadapt read", "imgadapt develop",
                 "  scale", "  demosaic", "  exposure", "  colour+curve", "write png (raw.write)"):
        assert seconds[name] >= 0, name
    stages = sum(seconds[f"  {s}"] for s in ("scale", "demosaic", "exposure", "colour+curve", "orient"))
    assert stages == pytest.approx(seconds["imgadapt develop"], rel=0.2, abs=0.01)
    assert result["ratios"]["demosaic share of develop"] <= 1
