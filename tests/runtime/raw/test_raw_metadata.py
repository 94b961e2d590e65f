"""Metadata of developed RAW files: the camera's EXIF from DNG files written in the tests (and from
other RAW containers' EXIF blocks) into PNG and TIFF outputs, read back with Pillow and tifffile;
the ICC profile of the output space; ``--strip-metadata``."""
import io
import struct
import zlib

import numpy as np
import pytest

from imgadapt.raw import metadata
from imgadapt import cli, raw
from imgadapt._io import read_array
from tests._raw_files import add_exif

pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")
PIL = pytest.importorskip("PIL", reason="metadata is read and written with Pillow (raw extra)")
tifffile = pytest.importorskip("tifffile", reason="TIFF metadata is read back with tifffile")
from PIL import ExifTags, Image, ImageCms  # noqa: E402

CAMERA = {"Make": "Testmaker", "Model": "TM-1", "DateTime": "2024:05:06 07:08:09", "Artist": "A. Photographer",
          "ExposureTime": (1, 250), "FNumber": (28, 10), "ISOSpeedRatings": 400,
          "DateTimeOriginal": "2024:05:06 07:08:09", "FocalLength": (35, 1), "LensModel": "TM 35mm F2",
          "MakerNote": bytes(300), "GPSLatitudeRef": "N", "GPSLatitude": [(52, 1), (30, 1), (0, 1)]}
TAG = {name: code for code, name in ExifTags.TAGS.items()}


@pytest.fixture
def shot(tmp_path, dng):
    """A DNG with the camera's EXIF, turned 90° clockwise (orientation 6)."""
    src = tmp_path / "in"
    src.mkdir()
    path = src / "shot.dng"
    dng.write(path, dng.scene(40, 60), "RGGB", black=512, white=16383, neutral=(0.5, 1.0, 0.7), orientation=6)
    add_exif(path, CAMERA)
    return path


def exif_of(path) -> tuple[dict, dict, dict]:
    """(first directory, EXIF directory, GPS directory) by tag number, as Pillow reads them."""
    with Image.open(path) as im:
        block = im.getexif()
        return dict(block), dict(block.get_ifd(0x8769)), dict(block.get_ifd(0x8825))


def icc_of(path) -> bytes | None:
    with Image.open(path) as im:
        return im.info.get("icc_profile")


def png_chunks(path) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk, each CRC checked."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        payload = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + payload), kind
        chunks.append((kind, payload))
        at += 12 + length
    return chunks


def test_raw_read_finds_the_cameras_exif(shot):
    tags = raw.exif_tags(raw.read(shot))
    assert tags["Make"] == "Testmaker" and tags["Model"] == "TM-1" and tags["LensModel"] == "TM 35mm F2"
    assert tags["ExposureTime"] == pytest.approx(1 / 250) and tags["FNumber"] == pytest.approx(2.8)
    assert tags["ISOSpeedRatings"] == 400 and tags["DateTimeOriginal"] == "2024:05:06 07:08:09"
    assert tags["GPSInfo"]["GPSLatitudeRef"] == "N"
    assert "MakerNote" not in tags  # its offsets point into the RAW file: never copied


@pytest.mark.parametrize("fmt, suffix", [("png", ".png"), ("tiff", ".tif")])
def test_exif_and_icc_reach_png_and_tiff_outputs(installed, tmp_path, shot, fmt, suffix):
    out = tmp_path / "out"
    assert cli.main(["convert", str(shot), "-o", str(out), "--workers", "0", "--format", fmt]) == 0
    path = out / f"shot{suffix}"
    pixels = read_array(path)
    assert pixels.shape == (60, 40, 3) and pixels.dtype == np.uint16  # turned as the camera recorded
    np.testing.assert_array_equal(pixels, raw.develop(raw.read(shot), "demosaic/conv", dtype="uint16"))
    first, exif, gps = exif_of(path)
    assert first[TAG["Make"]] == "Testmaker" and first[TAG["Model"]] == "TM-1"
    assert first[TAG["DateTime"]] == "2024:05:06 07:08:09" and first[TAG["Artist"]] == "A. Photographer"
    assert first[TAG["Orientation"]] == 1  # the pixels are upright now
    assert first[TAG["Software"]].startswith("imgadapt ")
    assert float(exif[TAG["ExposureTime"]]) == pytest.approx(1 / 250)
    assert float(exif[TAG["FNumber"]]) == pytest.approx(2.8) and exif[TAG["ISOSpeedRatings"]] == 400
    assert exif[TAG["DateTimeOriginal"]] == "2024:05:06 07:08:09" and exif[TAG["LensModel"]] == "TM 35mm F2"
    assert float(exif[TAG["FocalLength"]]) == 35
    assert (exif[TAG["ExifImageWidth"]], exif[TAG["ExifImageHeight"]]) == (40, 60)
    assert TAG["MakerNote"] not in exif
    assert gps[1] == "N" and [float(v) for v in gps[2]] == [52, 30, 0]
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_of(path)))
    assert "sRGB" in profile.profile.profile_description
    if fmt == "tiff":  # the same through tifffile
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            assert tags["Make"].value == "Testmaker" and tags["Model"].value == "TM-1"
            assert int(tags["Orientation"].value) == 1
            assert tags["ExifTag"].value["ExposureTime"] == (1, 250)
            assert tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
            assert tags["InterColorProfile"].value == icc_of(path)
            assert int(tags["Compression"].value) == 8 and int(tags["Predictor"].value) == 2  # Deflate
    else:  # chunks in the right place, CRCs right
        kinds = [kind for kind, _ in png_chunks(path)]
        assert kinds[:3] == [b"IHDR", b"iCCP", b"eXIf"] and kinds.index(b"IDAT") > 2


def test_strip_metadata_leaves_the_exif_out_and_keeps_the_profile(installed, tmp_path, shot):
    for fmt, suffix in (("png", ".png"), ("tiff", ".tif")):
        out = tmp_path / fmt
        assert cli.main(["convert", str(shot), "-o", str(out), "--workers", "0", "--format", fmt,
                         "--strip-metadata"]) == 0
        path = out / f"shot{suffix}"
        first, exif, gps = exif_of(path)
        assert TAG["Make"] not in first and TAG["Model"] not in first and not exif and not gps
        assert icc_of(path)  # the profile describes the pixels: always there
        assert read_array(path).shape == (60, 40, 3)
    assert b"eXIf" not in [kind for kind, _ in png_chunks(tmp_path / "png" / "shot.png")]


def test_linear_output_carries_a_linear_profile_and_camera_rgb_none(installed, tmp_path, shot):
    out = tmp_path / "out"
    assert cli.main(["convert", str(shot), "-o", str(out), "--workers", "0", "--gamma", "linear"]) == 0
    linear = ImageCms.ImageCmsProfile(io.BytesIO(icc_of(out / "shot.png")))
    srgb = ImageCms.ImageCmsProfile(io.BytesIO(metadata.icc_profile("srgb")))
    grey = Image.new("RGB", (1, 1), (128, 128, 128))  # 0.502 linear is 0.735 in sRGB
    moved = ImageCms.applyTransform(grey, ImageCms.buildTransform(linear, srgb, "RGB", "RGB"))
    assert abs(moved.getpixel((0, 0))[1] - 187.5) <= 1.5
    out_raw = tmp_path / "raw"
    assert cli.main(["convert", str(shot), "-o", str(out_raw), "--workers", "0", "--colorspace", "raw"]) == 0
    assert icc_of(out_raw / "shot.png") is None  # camera RGB has no standard profile
    assert exif_of(out_raw / "shot.png")[0][TAG["Model"]] == "TM-1"


def test_outputs_are_the_same_bytes_every_time(installed, tmp_path, shot):
    for run in ("a", "b"):
        assert cli.main(["convert", str(shot), "-o", str(tmp_path / run), "--workers", "0"]) == 0
        assert cli.main(["convert", str(shot), "-o", str(tmp_path / run), "--workers", "0", "--format", "tiff"]) == 0
    for name in ("shot.png", "shot.tif"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_unturned_output_records_the_cameras_orientation(installed, tmp_path, shot):
    image = raw.read(shot)
    unturned = raw.develop(image, "demosaic/conv", orient=False, dtype="uint16")
    raw.write(tmp_path / "u.png", unturned, image, orient=False)
    assert exif_of(tmp_path / "u.png")[0][TAG["Orientation"]] == 6
    assert read_array(tmp_path / "u.png").shape == (40, 60, 3)


def test_a_dng_without_make_splits_its_unique_camera_model_as_dcraw(installed, tmp_path, dng):
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))  # UniqueCameraModel "imgadapt mosaic", no Make/Model
    image = raw.read(tmp_path / "a.dng")
    assert raw.exif_tags(image) == {"Make": "imgadapt", "Model": "mosaic"}
    raw.write(tmp_path / "a.png", raw.develop(image, "demosaic/conv", dtype="uint8"), image)
    first, exif, gps = exif_of(tmp_path / "a.png")
    assert (first[TAG["Make"]], first[TAG["Model"]]) == ("imgadapt", "mosaic") and 0x8825 not in first and not gps  # no empty GPS directory
    assert (exif[TAG["ExifImageWidth"]], exif[TAG["ExifImageHeight"]]) == (48, 32)


def _exif_block(first: dict, exif: dict) -> bytes:
    """A TIFF-structured EXIF block made by Pillow (without the ``Exif\\0\\0`` prefix)."""
    from PIL.TiffImagePlugin import IFDRational

    block = Image.Exif()
    for tag, value in first.items():
        block[tag] = IFDRational(*value) if isinstance(value, tuple) else value
    sub = block.get_ifd(0x8769)
    for tag, value in exif.items():
        sub[tag] = IFDRational(*value) if isinstance(value, tuple) else value
    return block.tobytes()[6:]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_exif_of_other_raw_containers(tmp_path):
    """Non-DNG layouts (made up here, no LibRaw involved): a TIFF-based file with ORF's magic
    number, CR3's CMT boxes, and a JPEG preview's EXIF inside a proprietary header (RAF)."""
    block = _exif_block({TAG["Make"]: "Maker", TAG["Model"]: "M1"}, {TAG["ExposureTime"]: (1, 60)})
    orf = tmp_path / "a.orf"
    orf.write_bytes(block[:2] + b"RO" + block[4:] if block[:2] == b"II" else block[:2] + b"OR" + block[4:])
    cmt2 = _exif_block({TAG["ExposureTime"]: (1, 60)}, {})
    cr3 = tmp_path / "a.cr3"
    cr3.write_bytes(_box(b"ftyp", b"crx " + bytes(12))
                    + _box(b"moov", _box(b"uuid", bytes(16) + _box(b"CMT1", _exif_block({TAG["Make"]: "Maker",
                                                                                      TAG["Model"]: "M1"}, {}))
                                         + _box(b"CMT2", cmt2))))
    raf = tmp_path / "a.raf"
    app1 = b"Exif\x00\x00" + block
    raf.write_bytes(b"FUJIFILMCCD-RAW 0201FF383501" + bytes(100) + b"\xff\xd8\xff\xe1"
                    + struct.pack(">H", len(app1) + 2) + app1 + b"\xff\xd9")
    for path in (orf, cr3, raf):
        tags = metadata.describe(metadata.read_exif(path))
        assert tags["Make"] == "Maker" and tags["Model"] == "M1", path
        assert float(tags["ExposureTime"]) == pytest.approx(1 / 60), path


def test_damaged_exif_never_fails_reading(tmp_path, shot):
    """Bytes of the metadata area overwritten at random: reading gives some EXIF or none, never an
    exception (the file's pixels are LibRaw's business)."""
    data = shot.read_bytes()
    rng = np.random.default_rng(0)
    start = len(data) - 900  # the directories add_exif appended
    for k in range(60):
        damaged = bytearray(data)
        at = rng.integers(start, len(data), 6)
        damaged[at[0]:at[0] + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        for i in at[1:]:
            damaged[i] = rng.integers(0, 256)
        path = tmp_path / f"d{k}.dng"
        path.write_bytes(bytes(damaged))
        blob = metadata.read_exif(path)
        assert blob is None or isinstance(blob, bytes)
        metadata.describe(blob)
    (tmp_path / "short.dng").write_bytes(data[:12])
    assert metadata.read_exif(tmp_path / "short.dng") is None
    assert metadata.read_exif(tmp_path / "missing.dng") is None


def test_without_pillow_outputs_carry_pixels_only(installed, tmp_path, shot, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)
    metadata.icc_profile.cache_clear()
    try:
        out = tmp_path / "out"
        assert cli.main(["convert", str(shot), "-o", str(out), "--workers", "0"]) == 0
        kinds = [kind for kind, _ in png_chunks(out / "shot.png")]
        assert b"eXIf" not in kinds and b"iCCP" not in kinds
    finally:
        metadata.icc_profile.cache_clear()
