"""Promise: the batch commands (demosaic, upscale, edges, convert) never lose an input, never leave
a partial output, refuse oversized images before decoding them, and print one honest line per file.

Every hostile file is built here: names that collide, symbolic link loops, a few hundred bytes of
PNG/JPEG/TIFF/BMP/PNM/NPY header declaring gigapixels, a full disk (simulated), names at the file
system's length limit, and names holding newlines and escape sequences.
"""
from __future__ import annotations

import errno
import logging
import os
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgadapt import _headers, _io, cli
from imgadapt.errors import InputSizeError, InputValueError
from imgadapt._io import read_array, temp_files, temp_prefix, write_array

PLAIN = ["--pattern", "RGGB", "--wb", "none", "--colorspace", "raw", "--workers", "0"]
EXTRA = {"demosaic": [], "upscale": ["--scale", "2"], "edges": [], "convert": PLAIN}
IMAGE_COMMANDS = ["demosaic", "upscale", "edges"]


def run(command: str, *args) -> int:
    return cli.main([command, *map(str, args), *EXTRA[command]])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def gray(h=16, w=24, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w)).astype(np.uint8)


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------------------------
# 1. Output names are checked against each other and the inputs before anything is written


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
def test_an_output_folder_holding_inputs_is_refused(installed, tmp_path, command):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_array(folder / "photo.png", gray())
    np.save(folder / "photo.npy", gray(seed=1))
    before = snapshot(folder)
    assert run(command, folder, "-o", folder, "--overwrite") == 2
    assert snapshot(folder) == before  # the mosaic photo.png is still there, unchanged
    # the same folder under another name (a link to it) is the same folder
    (tmp_path / "link").symlink_to(folder)
    assert run(command, folder / "photo.png", folder / "photo.npy", "-o", tmp_path / "link", "--overwrite") == 2
    assert run(command, tmp_path / "link" / "photo.png", "-o", folder) == 2
    assert snapshot(folder) == before


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
def test_colliding_output_names_fail_before_anything_is_written(installed, tmp_path, command, caplog):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    np.save(src / "Photo.npy", gray(seed=1))
    write_array(src / "photo.png", gray())  # the same output name, but for its case
    write_array(src / "other.png", gray(seed=2))
    caplog.set_level(logging.INFO, logger="imgadapt")
    assert run(command, src, "-o", out) == 1
    assert sorted(p.name for p in out.iterdir()) == ["Photo.png", "other.png"]
    messages = [r.getMessage() for r in caplog.records]
    refused = [i for i, m in enumerate(messages) if "photo.png" in m and "also the output of" in m and "Photo.npy" in m]
    written = [i for i, m in enumerate(messages) if "->" in m]
    assert refused and written and refused[0] < written[0]  # decided before the first write


@pytest.mark.parametrize("command", IMAGE_COMMANDS)
def test_a_single_output_file_never_replaces_its_input(installed, tmp_path, command, caplog):
    write_array(tmp_path / "m.png", gray())
    (tmp_path / "link.png").symlink_to(tmp_path / "m.png")
    before = snapshot(tmp_path)
    assert run(command, tmp_path / "m.png", "-o", tmp_path / "m.png", "--overwrite") == 1
    assert run(command, tmp_path / "m.png", "-o", tmp_path / "link.png", "--overwrite") == 1
    assert snapshot(tmp_path) == before
    assert all("is the input itself" in m for m in errors(caplog))


# --------------------------------------------------------------------------------------------
# 2. Symbolic link loops: a per-file error for an input, a usage error for -o; never a traceback


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
def test_symbolic_link_loops_fail_by_name_and_the_batch_goes_on(installed, tmp_path, command, caplog):
    src = tmp_path / "in"
    src.mkdir()
    write_array(src / "a.png", gray())
    os.symlink("l2.png", src / "l1.png")
    os.symlink("l1.png", src / "l2.png")
    assert run(command, src, "-o", tmp_path / "out1") == 1  # found by a folder scan
    assert run(command, src / "l1.png", src / "a.png", "-o", tmp_path / "out2") == 1  # named
    for out in ("out1", "out2"):
        assert sorted(p.name for p in (tmp_path / out).iterdir()) == ["a.png"]
    for name in ("l1.png", "l2.png"):
        assert any(name in m and "expected a file, got a symbolic link loop" in m for m in errors(caplog))

    os.symlink("o2", tmp_path / "o1")
    os.symlink("o1", tmp_path / "o2")
    caplog.clear()
    assert run(command, src / "a.png", "-o", tmp_path / "o1") == 2
    assert "o1: expected a folder, got a symbolic link loop" in "\n".join(errors(caplog))


# --------------------------------------------------------------------------------------------
# 12. The pixel limit is checked on the header, before decoding


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A valid PNG signature and IHDR, and a small zlib stream of zeros (a decoder would allocate
    the whole frame before it found the data short)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 200_000))
            + _chunk(b"IEND", b""))


def jpeg_header(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff\xff" + sof + b"\xff\xd9"  # with a fill byte before SOF


def tiff_header(width: int, height: int, big_endian: bool = False) -> bytes:
    o = ">" if big_endian else "<"
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 16), (277, 3, 1, 1), (273, 4, 1, 0)]
    ifd = struct.pack(o + "H", len(entries)) + b"".join(struct.pack(o + "HHII", *e) for e in entries) + b"\0" * 4
    return (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(o + "I", 8) + ifd


def bmp_header(width: int, height: int) -> bytes:
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 24,
                                                                    0, 0, 0, 0, 0, 0)


HOSTILE = {  # name: (bytes, declared width, declared height)
    "bomb.png": (png_header(25000, 25000), 25000, 25000),
    "deep.png": (png_header(16000, 16000, depth=16, colour=2), 16000, 16000),
    "huge.jpg": (jpeg_header(60000, 60000), 60000, 60000),
    "huge.tif": (tiff_header(30000, 30000), 30000, 30000),
    "motorola.tiff": (tiff_header(20000, 12000, big_endian=True), 20000, 12000),
    "huge.bmp": (bmp_header(20000, 20000), 20000, 20000),
    "huge.pgm": (b"P5\n# a comment\n40000 40000\n255\n" + b"\0" * 64, 40000, 40000),
    "png-named.jpg": (png_header(30000, 30000), 30000, 30000),  # the content decides, as for OpenCV
}


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an oversized image reached the decoder")
    monkeypatch.setattr(cv2, "imread", refuse)
    monkeypatch.setattr(np, "load", refuse)


def sparse_npy(path: Path, shape, dtype=np.uint8) -> None:
    """An .npy file of ``shape`` whose data is a hole (no disk or memory spent)."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
        fh.truncate(fh.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("name", sorted(HOSTILE) + ["sparse.npy"])
def test_an_oversized_image_is_refused_from_its_header(installed, tmp_path, no_decoding, caplog, name):
    src = tmp_path / "in"
    src.mkdir()
    if name == "sparse.npy":
        sparse_npy(src / name, (15000, 15000))
        width, height = 15000, 15000
    else:
        data, width, height = HOSTILE[name]
        (src / name).write_bytes(data)
        assert len(data) < 300_000
    start = time.perf_counter()
    assert run("demosaic", src / name, "-o", tmp_path / "out") == 1
    assert time.perf_counter() - start < 5
    message = "\n".join(errors(caplog))
    assert f"{width}x{height} pixels" in message and "more than the limit of 200 MP" in message
    with pytest.raises(InputSizeError, match=f"{width}x{height}"):
        read_array(src / name, max_pixels=200_000_000)  # the library function refuses too


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
def test_every_batch_command_has_the_pixel_limit(installed, tmp_path, no_decoding, caplog, command):
    src = tmp_path / "in"
    src.mkdir()
    (src / "bomb.png").write_bytes(png_header(25000, 25000))
    assert run(command, src, "-o", tmp_path / "out") == 1
    assert "25000x25000 pixels (width x height, 625 MP), more than the limit of 200 MP" in "\n".join(errors(caplog))
    (src / "bomb.png").write_bytes(png_header(900, 1000))
    caplog.clear()
    assert run(command, src, "-o", tmp_path / "out", "--max-megapixels", "0.5") == 1
    assert "900x1000 pixels (width x height, 0.9 MP), more than the limit of 0.5 MP" in "\n".join(errors(caplog))


@pytest.mark.parametrize("data, why", [
    (b"GIF89a" + b"\0" * 40, "expected a PNG, JPEG, TIFF, BMP, PNM or NPY file, got one that starts with the bytes 47 49 46"),
    (b"", "got one that starts with the bytes (none: the file is empty)"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "PNG header, got a damaged one"),
    (b"\xff\xd8\xff\xda\0\x02", "JPEG header, got a damaged one (the image data starts before the frame size"),
    (b"II*\0" + struct.pack("<I", 10 ** 9), "TIFF header, got a damaged one (the first image directory lies beyond"),
    (b"II+\0\x08\0\0\0" + struct.pack("<QQ", 16, 2 ** 40), "the first image directory claims 1099511627776 entries"),
    (b"P5\n" + b"9" * 5000 + b" 3\n255\n", "PNM header, got a damaged one (expected a width or height"),
])
def test_unreadable_headers_are_refused_without_decoding(tmp_path, no_decoding, data, why):
    (tmp_path / "x.png").write_bytes(data)
    with pytest.raises(InputValueError, match=None) as exc:
        read_array(tmp_path / "x.png")
    assert why in str(exc.value)


def test_a_truncated_npy_is_refused_before_numpy_allocates_it(tmp_path, no_decoding):
    with open(tmp_path / "t.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (9000, 9000)})
        fh.write(b"\0" * 1000)
    with pytest.raises(InputValueError, match=r"needs 648000000 bytes of data, the file holds 1000"):
        read_array(tmp_path / "t.npy")


def test_headers_agree_with_the_writers(tmp_path):
    """The sizes read from headers are those of files written by OpenCV, tifffile and numpy."""
    image = np.zeros((5, 7, 3), np.uint8)
    for ext in (".png", ".jpg", ".tif", ".bmp", ".ppm", ".pam", ".pfm"):
        assert cv2.imwrite(str(tmp_path / f"c{ext}"), image)
        assert _headers.image_size(tmp_path / f"c{ext}") == (7, 5), ext
    assert cv2.imwrite(str(tmp_path / "g.pgm"), image[:, :, 0])
    assert _headers.image_size(tmp_path / "g.pgm") == (7, 5)
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((9, 11), np.uint16), bigtiff=True)
    tifffile.imwrite(tmp_path / "mm.tif", np.zeros((9, 11, 3), np.uint8), byteorder=">")
    tifffile.imwrite(tmp_path / "tiles.tif", np.zeros((300, 700), np.uint8), tile=(256, 256))
    assert [_headers.image_size(tmp_path / n) for n in ("big.tif", "mm.tif", "tiles.tif")] == [(11, 9), (11, 9),
                                                                                                (700, 300)]
    np.save(tmp_path / "a.npy", np.zeros((9, 11, 3), np.float32))
    np.save(tmp_path / "f.npy", np.asfortranarray(np.zeros((9, 11))))
    with open(tmp_path / "v3.npy", "wb") as fh:
        np.lib.format.write_array(fh, np.zeros((4, 6), np.uint16), version=(3, 0))
    assert [_headers.image_size(tmp_path / n) for n in ("a.npy", "f.npy", "v3.npy")] == [(11, 9), (11, 9), (6, 4)]
    assert read_array(tmp_path / "v3.npy").shape == (4, 6)


# --------------------------------------------------------------------------------------------
# 13. A full disk is reported as such, and leaves no partial file


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.fh, name)


@pytest.mark.parametrize("where", ["write", "fsync"])
@pytest.mark.parametrize("suffix", [".png", ".npy"])
def test_a_full_disk_is_reported_as_such(tmp_path, monkeypatch, where, suffix):
    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "write":
        monkeypatch.setattr(_io, "open", lambda *a, **k: _FullDisk(open(*a, **k)), raising=False)
    else:
        monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as exc:
        write_array(tmp_path / f"x{suffix}", gray())
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / f"x{suffix}")
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary file


def test_the_batch_says_no_space_left_on_device(installed, tmp_path, monkeypatch, caplog):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    write_array(tmp_path / "m.png", gray())
    monkeypatch.setattr(os, "fsync", no_space)
    assert run("demosaic", tmp_path / "m.png", "-o", tmp_path / "out") == 1
    (message,) = [m for m in errors(caplog) if "m.png" in m]
    assert message.endswith(f"{tmp_path / 'out' / 'm.png'}: no space left on device")
    assert "OpenCV" not in message and list((tmp_path / "out").iterdir()) == []


def test_an_encoder_refusal_is_not_an_io_error(tmp_path):
    with pytest.raises(InputValueError, match=r"OpenCV cannot encode \.pgm from 3-channel uint16"):
        write_array(tmp_path / "x.pgm", np.zeros((4, 4, 3), np.uint16))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# 14. Temporary names fit whenever the output name fits


@pytest.mark.parametrize("stem", ["x" * 251, "é" * 125, "x" * 233])
def test_temporary_names_fit_when_the_output_name_fits(installed, tmp_path, stem):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_array(src / f"{stem}.png", gray())
    assert len(os.fsencode(f"{stem}.png")) <= 255
    prefix = temp_prefix(out / f"{stem}.png")
    assert len(os.fsencode(prefix)) + 8 + len(".png") <= 255
    out.mkdir()
    stale = out / f"{prefix}k1ll3d0.png"  # what a killed run leaves
    stale.write_bytes(b"half an image")
    assert temp_files(out / f"{stem}.png") == [stale]
    assert temp_files(out / f"{stem[:-1]}.png") == []  # another long name does not claim it
    assert run("demosaic", src, "-o", out) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.png"]  # the stale file was removed, no new one left


# --------------------------------------------------------------------------------------------
# 15. Names in messages are escaped; one name per message; megapixel figures that make sense


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
def test_control_characters_in_names_are_escaped(installed, tmp_path, command, caplog):
    src = tmp_path / "in"
    src.mkdir()
    forged = "a\n[2/2] FAILED x.png: forged line\x1b[2K\u202e.png"
    write_array(src / "ok.png", gray())
    (src / "ok.png").rename(src / forged.replace("/", "-"))
    (src / "bad\r.png").write_bytes(b"not an image")
    (src / "star[1].png").write_bytes((src / forged.replace("/", "-")).read_bytes())  # glob characters, literally
    caplog.set_level(logging.INFO, logger="imgadapt")
    args = [src / forged.replace("/", "-"), src / "bad\r.png", src / "missing\n.png", src / "star[1].png"]
    assert run(command, *args, "-o", tmp_path / "out") == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "imgadapt"]
    assert messages and not [m for m in messages if any(c in m for c in "\n\r\x1b\u202e")]
    text = "\n".join(messages)
    assert "a\\n[2-2] FAILED x.png: forged line\\x1b[2K\\u202e.png" in text and "bad\\r.png" in text
    missing = [m for m in messages if "missing" in m and "no such file" in m]
    assert missing and all(m.count("missing\\n.png") == 1 for m in missing)
    assert (tmp_path / "out" / "star[1].png").exists()


@pytest.mark.parametrize("command", IMAGE_COMMANDS + ["convert"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "0.000001", "x"])
def test_a_limit_of_no_pixels_is_a_usage_error(installed, tmp_path, command, value, capsys):
    with pytest.raises(SystemExit) as exc:
        run(command, tmp_path / "m.png", "-o", tmp_path / "out", "--max-megapixels", value)
    assert exc.value.code == 2
    assert "--max-megapixels: expected a positive number of megapixels" in capsys.readouterr().err


def test_small_megapixel_figures_make_sense(installed, tmp_path, caplog):
    write_array(tmp_path / "m.png", np.zeros((64, 96), np.uint8))
    assert run("demosaic", tmp_path / "m.png", "-o", tmp_path / "out", "--max-megapixels", "0.001") == 1
    assert "96x64 pixels (width x height, 0.00614 MP), more than the limit of 0.001 MP" in "\n".join(errors(caplog))
    assert [_headers.format_megapixels(n) for n in (4, 6144, 1.5e6, 200e6, 1_234_567_890)] == [
        "0.000004", "0.00614", "1.5", "200", "1235"]


@pytest.mark.parametrize("suffix", ["/../escaped.png", ".exe", ""])
def test_an_output_suffix_must_name_a_format_and_stay_in_the_folder(installed, tmp_path, suffix, capsys):
    write_array(tmp_path / "m.png", gray())
    with pytest.raises(SystemExit) as exc:
        run("demosaic", tmp_path / "m.png", tmp_path / "m.png", "-o", tmp_path / "out", "--suffix", suffix)
    assert exc.value.code == 2 and "--suffix: expected a name ending such as .png" in capsys.readouterr().err
