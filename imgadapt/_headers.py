"""Image size from a file's header, so that oversized images are refused before they are decoded.

A few hundred kilobytes of PNG can declare 25000x25000 pixels, and the decoder allocates the whole
frame before it notices anything. :func:`check_pixels` reads only the header and refuses a frame
over the limit. The format is recognised by its first bytes, as OpenCV's decoders are (a PNG named
``.jpg`` is still a PNG), and ``.npy`` files by numpy's header reader. Anything without a header
this module reads is refused rather than decoded: PNG, JPEG, TIFF (and BigTIFF), BMP, PNM
(PBM/PGM/PPM, PAM, PFM) and NPY are the formats the batch commands accept.
"""
from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from .errors import InputSizeError, InputValueError

FORMATS = "PNG, JPEG, TIFF, BMP, PNM or NPY"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNM_MAGIC = (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7", b"PF", b"Pf")
_PNM_HEADER = 1 << 16  # bytes of PNM header (comments included) read at most
_JPEG_HEADER = 1 << 25  # the start-of-frame marker must come within the first 32 MiB
_TIFF_TAGS = 65535  # entries of one image file directory read at most


class _Damaged(Exception):
    """A header of a known format that cannot be read: ``(format, why)``."""


def format_megapixels(pixels: float) -> str:
    """Megapixels with three significant digits and no exponent: 625, 1.5, 0.00614."""
    value = pixels / 1e6
    if value <= 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(value)))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def check_pixels(path: str | os.PathLike, max_pixels: int) -> tuple[int, int]:
    """The ``(width, height)`` a file declares, after checking it against ``max_pixels``.

    Raises:
        InputSizeError: the header declares more than ``max_pixels`` pixels.
        InputValueError: no header this module reads, or a damaged one.
        OSError: the file cannot be read.
    """
    width, height = image_size(path)
    if width * height > max_pixels:
        raise InputSizeError(
            f"{path}: the header declares {width}x{height} pixels (width x height, "
            f"{format_megapixels(width * height)} MP), more than the limit of {format_megapixels(max_pixels)} MP "
            "(raise --max-megapixels / max_pixels to allow it)")
    return width, height


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from the header of an image or the shape of an ``.npy`` array
    (its first two axes), without reading the pixels."""
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            if path.suffix.lower() == ".npy":
                size = _npy(fh, os.fstat(fh.fileno()).st_size)
            else:
                head = fh.read(32)
                fh.seek(0)
                size = _by_magic(fh, head)
        except _Damaged as exc:
            kind, why = exc.args
            raise InputValueError(f"{path}: expected a readable {kind} header, got a damaged one ({why})") from None
    if size is None:
        raise InputValueError(f"{path}: expected a {FORMATS} file, got one that starts with the bytes "
                              f"{head[:8].hex(' ') if head else '(none: the file is empty)'}")
    width, height = size
    if width < 1 or height < 1:
        raise InputSizeError(f"{path}: the header declares an empty image of {width}x{height} pixels")
    return width, height


def _by_magic(fh, head: bytes):
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg(fh)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff(fh)
    if head.startswith(b"BM"):
        return _bmp(head)
    if head[:2] in _PNM_MAGIC:
        return _pnm(fh.read(_PNM_HEADER))
    return None


def _png(head: bytes) -> tuple[int, int]:
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise _Damaged("PNG", "the IHDR chunk does not come first")
    return struct.unpack(">II", head[16:24])


def _skip_to_marker(fh) -> bool:
    """Move past the next 0xFF byte (decoders skip stray bytes between segments too)."""
    while fh.tell() < _JPEG_HEADER:
        chunk = fh.read(4096)
        if not chunk:
            return False
        at = chunk.find(b"\xff")
        if at >= 0:
            fh.seek(at + 1 - len(chunk), os.SEEK_CUR)
            return True
    return False


def _jpeg(fh) -> tuple[int, int]:
    """Walk the segments after SOI up to the first start-of-frame, which holds the frame size."""
    fh.seek(2)
    while _skip_to_marker(fh):
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fh.read(1)
        if not marker:
            break
        code = marker[0]
        if code in (0x00, 0x01) or 0xD0 <= code <= 0xD8:  # stuffed byte or a marker without a length
            continue
        if code in (0xD9, 0xDA):
            raise _Damaged("JPEG", "the image data starts before the frame size is given")
        raw = fh.read(2)
        if len(raw) < 2 or struct.unpack(">H", raw)[0] < 2:
            raise _Damaged("JPEG", "a truncated segment")
        if code in _JPEG_SOF:
            body = fh.read(5)
            if len(body) < 5:
                raise _Damaged("JPEG", "a truncated start-of-frame segment")
            height, width = struct.unpack(">HH", body[1:5])
            if height == 0:
                raise _Damaged("JPEG", "the frame height is left to a later DNL marker")
            return width, height
        fh.seek(struct.unpack(">H", raw)[0] - 2, os.SEEK_CUR)
    raise _Damaged("JPEG", "no start-of-frame segment within the file or its first 32 MiB")


_TIFF_TYPES = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8


def _tiff(fh) -> tuple[int, int]:
    """ImageWidth (256) and ImageLength (257) of the first image file directory (the page OpenCV reads)."""
    head = fh.read(16)
    order = "<" if head[:2] == b"II" else ">"
    if struct.unpack(order + "H", head[2:4])[0] == 43:  # BigTIFF: 8-byte offsets and counts
        offset_fmt, count_fmt, entry_size = "Q", "Q", 20
    else:
        offset_fmt, count_fmt, entry_size = "I", "H", 12
    start = 8 if offset_fmt == "Q" else 4
    if len(head) < start + struct.calcsize(offset_fmt):
        raise _Damaged("TIFF", "a truncated file header")
    fh.seek(struct.unpack(order + offset_fmt, head[start:start + struct.calcsize(offset_fmt)])[0])
    raw = fh.read(struct.calcsize(count_fmt))
    if len(raw) < struct.calcsize(count_fmt):
        raise _Damaged("TIFF", "the first image directory lies beyond the end of the file")
    count = struct.unpack(order + count_fmt, raw)[0]
    if count > _TIFF_TAGS:
        raise _Damaged("TIFF", f"the first image directory claims {count} entries")
    entries = fh.read(count * entry_size)
    if len(entries) < count * entry_size:
        raise _Damaged("TIFF", "a truncated image directory")
    found = {}
    for i in range(count):
        entry = entries[i * entry_size:(i + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257) and kind in _TIFF_TYPES:
            value_at = 12 if entry_size == 20 else 8  # the value, inline: tag, type, count come first
            fmt = order + _TIFF_TYPES[kind]
            found[tag] = struct.unpack(fmt, entry[value_at:value_at + struct.calcsize(fmt)])[0]
    if 256 not in found or 257 not in found:
        raise _Damaged("TIFF", "no ImageWidth or ImageLength in the first image directory")
    return found[256], found[257]


def _bmp(head: bytes) -> tuple[int, int]:
    if len(head) < 26:
        raise _Damaged("BMP", "a truncated header")
    if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", head[18:22])
    width, height = struct.unpack("<ii", head[18:26])
    return width, abs(height)  # negative: stored top-down


def _number(word: bytes, kind: str) -> int:
    if not word.isdigit() or len(word) > 18:
        raise _Damaged(kind, f"expected a width or height, got {word[:20]!r}")
    return int(word)


def _pnm(head: bytes) -> tuple[int, int]:
    """PBM/PGM/PPM/PFM: width and height are the first two numbers after the magic (comments
    skipped); PAM (P7): the WIDTH and HEIGHT lines before ENDHDR."""
    if head[:2] == b"P7":
        fields = {}
        for line in head[2:].splitlines():
            words = line.split(b"#")[0].split()
            if words[:1] == [b"ENDHDR"]:
                break
            if len(words) == 2 and words[0] in (b"WIDTH", b"HEIGHT"):
                fields[words[0]] = _number(words[1], "PAM")
        if len(fields) < 2:
            raise _Damaged("PAM", "no WIDTH and HEIGHT lines before ENDHDR")
        return fields[b"WIDTH"], fields[b"HEIGHT"]
    numbers: list[int] = []
    for line in head[2:].splitlines():
        for word in line.split(b"#")[0].split():
            numbers.append(_number(word, "PNM"))
            if len(numbers) == 2:
                return numbers[0], numbers[1]
    raise _Damaged("PNM", "no width and height within the first 64 KiB")


def _npy(fh, file_size: int) -> tuple[int, int]:
    """The first two axes from numpy's own header reader. A file shorter than its header says is
    refused here, before numpy allocates the array it declares."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:  # 3.0 (utf-8 field names): memory-mapping reads the header only
            array = np.load(fh.name, mmap_mode="r", allow_pickle=False)
            shape, dtype = array.shape, array.dtype
            fh.seek(array.offset)
            del array
    except (ValueError, OSError, SyntaxError, EOFError) as exc:
        raise _Damaged("NPY", str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    if dtype.hasobject:
        raise _Damaged("NPY", f"it holds Python objects ({dtype}), not numbers")
    needed, left = math.prod(shape) * dtype.itemsize, file_size - fh.tell()
    if needed > left:
        raise _Damaged("NPY", f"its shape {shape} of {dtype} needs {needed} bytes of data, the file holds {left}")
    shape = tuple(shape) + (1, 1)  # a 0-d or 1-d array counts its elements as pixels; later checks refuse it
    return shape[1], shape[0]
