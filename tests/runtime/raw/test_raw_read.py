"""imgadapt.raw.read: DNG files written in the test, read back through LibRaw; plain mosaics; bad files."""
import sys

import numpy as np
import pytest

from imgadapt import bayer, raw
from imgadapt.raw import colour
from imgadapt.errors import CorruptRawError, InputSizeError, InputValueError, UnsupportedRawError
from imgadapt._io import write_array

pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")

# A camera-like XYZ -> camera matrix (rows R, G, B), as in a DNG ColorMatrix1.
CAMERA_MATRIX = np.array([[0.90, -0.25, -0.08], [-0.40, 1.25, 0.12], [-0.05, 0.18, 0.62]])


@pytest.mark.parametrize("pattern", bayer.PATTERNS)
def test_dng_metadata_round_trip(tmp_path, dng, pattern):
    path = tmp_path / "a.dng"
    written = dng.write(path, dng.scene(40, 60), pattern, black=(500, 510, 520, 530), white=16383,
                        neutral=(0.5, 1.0, 0.8), matrix=CAMERA_MATRIX, orientation=6)
    image = raw.read(path)
    np.testing.assert_array_equal(image.mosaic, written)
    assert image.mosaic.dtype == np.uint16 and image.pattern == pattern
    assert image.black_levels == (500, 510, 520, 530)  # per site of the top-left 2x2, row by row
    assert image.white_level == 16383
    np.testing.assert_allclose(image.camera_wb, (2.0, 1.0, 1.25), rtol=1e-5)  # reciprocals of AsShotNeutral
    assert image.daylight_wb is not None and image.daylight_wb[1] == 1.0
    np.testing.assert_allclose(image.camera_to_srgb, colour.camera_to_srgb(CAMERA_MATRIX), atol=1e-4)  # LibRaw: float32
    assert image.flip == 6 and image.source == str(path)
    assert f"40x60 uint16 {pattern}" in repr(image)


def test_camera_matrix_built_as_dcraw():
    m = colour.camera_to_srgb(CAMERA_MATRIX)
    # sRGB white, seen by the camera and white-balanced, is (1, 1, 1), and maps back to white.
    np.testing.assert_allclose(m @ np.ones(3), np.ones(3), atol=1e-12)
    np.testing.assert_allclose(np.linalg.inv(m), CAMERA_MATRIX @ colour.XYZ_FROM_SRGB
                               / (CAMERA_MATRIX @ colour.XYZ_FROM_SRGB).sum(1, keepdims=True), atol=1e-12)


def test_sensors_that_are_not_2x2_bayer_are_refused(tmp_path, dng):
    dng.write_odd(tmp_path / "x.dng", "xtrans")
    with pytest.raises(UnsupportedRawError, match=r"x\.dng: expected a 2x2 Bayer pattern, got a X-Trans 6x6"):
        raw.read(tmp_path / "x.dng")
    dng.write_odd(tmp_path / "c.dng", "cmyg")
    with pytest.raises(UnsupportedRawError, match="expected an RGB Bayer sensor, got a four-colour"):
        raw.read(tmp_path / "c.dng")


def test_corrupt_and_non_raw_files_are_named(tmp_path, dng):
    dng.write(tmp_path / "good.dng", dng.scene(40, 60))
    data = (tmp_path / "good.dng").read_bytes()
    (tmp_path / "cut.dng").write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptRawError, match=r"cut\.dng: .*truncated or corrupt"):
        raw.read(tmp_path / "cut.dng")
    (tmp_path / "notes.nef").write_text("shopping list\n")
    with pytest.raises(UnsupportedRawError, match=r"notes\.nef: expected a camera RAW file .* but it is text"):
        raw.read(tmp_path / "notes.nef")
    (tmp_path / "photo.cr2").write_bytes(b"\xff\xd8\xff\xe0" + bytes(500))
    with pytest.raises(UnsupportedRawError, match="it is a JPEG image"):
        raw.read(tmp_path / "photo.cr2")
    (tmp_path / "empty.arw").write_bytes(b"")
    with pytest.raises(UnsupportedRawError, match="empty"):
        raw.read(tmp_path / "empty.arw")
    with pytest.raises(FileNotFoundError):
        raw.read(tmp_path / "missing.dng")


def test_pixel_limit_applies_before_decoding(tmp_path, dng):
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    with pytest.raises(InputSizeError, match="exceed the limit"):
        raw.read(tmp_path / "a.dng", max_pixels=40 * 60 - 1)
    # A PNG header claiming a huge frame is refused from the header alone.
    head = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (60000).to_bytes(4, "big") * 2
    (tmp_path / "bomb.png").write_bytes(head + bytes(64))
    with pytest.raises(InputSizeError, match="60000x60000"):
        raw.read(tmp_path / "bomb.png", pattern="RGGB")
    write_array(tmp_path / "m.tif", np.zeros((30, 40), np.uint16))
    with pytest.raises(InputSizeError, match="40x30"):
        raw.read(tmp_path / "m.tif", pattern="RGGB", max_pixels=1000)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy"])
def test_plain_mosaics_need_their_pattern(tmp_path, rng, suffix):
    mosaic = rng.integers(0, 4096, (20, 30)).astype(np.uint16)
    write_array(tmp_path / f"m{suffix}", mosaic)
    image = raw.read(tmp_path / f"m{suffix}", pattern="gbrg", white_level=4095)
    np.testing.assert_array_equal(image.mosaic, mosaic)
    assert image.pattern == "GBRG" and image.white_level == 4095 and image.black_levels == (0, 0, 0, 0)
    assert image.camera_wb is None and image.camera_to_srgb is None and image.flip == 0
    with pytest.raises(InputValueError, match="pass pattern"):
        raw.read(tmp_path / f"m{suffix}")


def test_missing_rawpy_names_the_extra(tmp_path, dng, monkeypatch):
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    monkeypatch.setitem(sys.modules, "rawpy", None)
    with pytest.raises(ImportError, match=r'pip install "imgadapt\[raw\]"'):
        raw.read(tmp_path / "a.dng")
