"""Metadata of developed RAW files: the camera's EXIF, carried into PNG and TIFF outputs, and the
ICC profile of the output colour space. Pillow (in the ``raw`` extra) reads and writes the EXIF
blocks and builds the sRGB profile with LittleCMS.

Where the EXIF comes from:

- TIFF-based RAW files (DNG, CR2, NEF, NRW, ARW, SR2, PEF, ERF, 3FR, DCR, KDC, MOS, IIQ, SRW and
  ORF, RW2 with their own magic numbers): the first image file directory (Make, Model, DateTime,
  Artist, Copyright, ImageDescription), its EXIF directory (exposure time, f-number, ISO,
  DateTimeOriginal, lens, focal length, ...) and its GPS directory;
- DNG files that record no Make/Model: ``UniqueCameraModel`` split as dcraw and LibRaw do, its
  first word the Make and the rest the Model (one word: the Model); a DNG ``LensInfo`` becomes
  ``LensSpecification``;
- CR3 files: their CMT1 (first directory), CMT2 (EXIF) and CMT4 (GPS) boxes;
- anything else (RAF, CRW, MRW, X3F, ...): the first ``Exif`` block within the first MiB, which
  is where these formats keep their JPEG preview and its EXIF.

What is not copied: MakerNote (its offsets point into the RAW file; it would be broken in a new
one), the interoperability directory, thumbnails, XMP, and single values over 64 KiB. Reading
never fails a file: a damaged or missing block gives no EXIF (logged at debug level).
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import struct
import warnings

log = logging.getLogger("imgadapt")

EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
ORIENTATION, SOFTWARE, ICC_PROFILE = 0x0112, 0x0131, 0x8773
MAKE, MODEL = 0x010F, 0x0110
MAKER_NOTE, PIXEL_X, PIXEL_Y, LENS_SPECIFICATION = 0x927C, 0xA002, 0xA003, 0xA432
UNIQUE_CAMERA_MODEL, DNG_LENS_INFO = 0xC614, 0xC630
# First-directory tags copied: ImageDescription, Make, Model, DateTime, Artist, Copyright.
IFD0_TAGS = (0x010E, MAKE, MODEL, 0x0132, 0x013B, 0x8298)
EXIF_SKIPPED = frozenset({MAKER_NOTE, INTEROP_IFD, PIXEL_X, PIXEL_Y})
MAX_VALUE_BYTES = 1 << 16
_SCAN_BYTES = 1 << 20
_TIFF_MAGIC = {42, 0x4F52, 0x5352, 0x55}  # TIFF; Olympus ORF ("RO", "RS"); Panasonic RW2 (0x55)


def _pillow():
    try:
        from PIL import Image, TiffImagePlugin
    except ImportError:
        return None
    return Image, TiffImagePlugin


def _header(head: bytes) -> bytes | None:
    """The 8-byte TIFF header Pillow accepts for a TIFF-like header (ORF and RW2 use other magic
    numbers with the same layout), or ``None``."""
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    if struct.unpack(order + "H", head[2:4])[0] not in _TIFF_MAGIC:
        return None
    return head[:2] + struct.pack(order + "H", 42) + head[4:8]


def _load_ifd(fp, ifh: bytes, offset: int):
    """A Pillow ``ImageFileDirectory_v2`` read at ``offset`` of ``fp`` (offsets in it are from
    the start of ``fp``)."""
    _, TiffImagePlugin = _pillow()
    ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh)
    fp.seek(offset)
    ifd.load(fp)
    return ifd


def _usable(value) -> bool:
    """Worth copying: not an empty string, not a value too big for a metadata block."""
    if isinstance(value, str):
        return bool(value.strip("\x00 "))
    if isinstance(value, bytes):
        return 0 < len(value) <= MAX_VALUE_BYTES
    if isinstance(value, tuple):
        return 0 < len(value) <= MAX_VALUE_BYTES // 8
    return True


def _copy(ifd, tags=None, skip=frozenset()) -> dict[int, tuple[object, int]]:
    """``{tag: (value, type)}`` of ``ifd`` (all tags, or those in ``tags``), usable values only."""
    out = {}
    for tag in (tags if tags is not None else list(ifd.keys())):
        if tag in skip or tag not in ifd:
            continue
        try:
            value = ifd[tag]
        except Exception:  # noqa: BLE001 - one undecodable value; the rest is copied
            continue
        if _usable(value):
            out[tag] = (value, ifd.tagtype.get(tag))
    return out


def _from_tiff(fp, ifh: bytes) -> tuple[dict, dict, dict]:
    """The copied tags of a TIFF structure starting at offset 0 of ``fp``."""
    order = "<" if ifh[:2] == b"II" else ">"
    ifd0 = _load_ifd(fp, ifh, struct.unpack(order + "I", ifh[4:8])[0])
    first = _copy(ifd0, IFD0_TAGS)
    exif, gps = {}, {}
    if isinstance(ifd0.get(EXIF_IFD), int):
        exif = _copy(_load_ifd(fp, ifh, ifd0[EXIF_IFD]), skip=EXIF_SKIPPED)
    if isinstance(ifd0.get(GPS_IFD), int):
        gps = _copy(_load_ifd(fp, ifh, ifd0[GPS_IFD]))
    # DNG: the camera's name where Make/Model are missing, the lens's range as EXIF records it
    if MAKE not in first and MODEL not in first and _usable(ifd0.get(UNIQUE_CAMERA_MODEL, "")):
        make, _, model = str(ifd0[UNIQUE_CAMERA_MODEL]).strip("\x00 ").partition(" ")
        if model:  # dcraw's reading: the first word is the make
            first[MAKE] = (make, 2)
        first[MODEL] = (model.strip() or make, 2)
    lens = ifd0.get(DNG_LENS_INFO)
    if LENS_SPECIFICATION not in exif and isinstance(lens, tuple) and len(lens) == 4:
        exif[LENS_SPECIFICATION] = (lens, 5)
    return first, exif, gps


def _from_bytes(block: bytes) -> tuple[dict, dict, dict] | None:
    ifh = _header(block[:8])
    return _from_tiff(io.BytesIO(block), ifh) if ifh else None


def _from_cr3(fp) -> tuple[dict, dict, dict] | None:
    """Canon CR3 (ISO base media): CMT1 holds the first directory, CMT2 the EXIF one, CMT4 GPS,
    each as a TIFF structure of its own."""
    data = fp.read(_SCAN_BYTES)
    boxes = {}
    for name in (b"CMT1", b"CMT2", b"CMT4"):
        at = data.find(name)
        if at >= 4:
            size = struct.unpack(">I", data[at - 4:at])[0]
            if 16 <= size <= MAX_VALUE_BYTES * 16:
                boxes[name] = data[at + 4:at - 4 + size]
    if b"CMT1" not in boxes:
        return None
    first, exif, gps = _from_bytes(boxes[b"CMT1"]) or ({}, {}, {})
    for name, target, skip in ((b"CMT2", exif, EXIF_SKIPPED), (b"CMT4", gps, frozenset())):
        block = boxes.get(name)
        ifh = _header(block[:8]) if block else None
        if ifh:
            order = "<" if ifh[:2] == b"II" else ">"
            target.update(_copy(_load_ifd(io.BytesIO(block), ifh, struct.unpack(order + "I", ifh[4:8])[0]),
                                skip=skip))
    return first, exif, gps


def _from_embedded(fp) -> tuple[dict, dict, dict] | None:
    """The first ``Exif\\0\\0`` block with a TIFF header within the first MiB (a JPEG preview's)."""
    data = fp.read(_SCAN_BYTES)
    at = data.find(b"Exif\x00\x00")
    while at >= 0:
        found = _from_bytes(data[at + 6:])
        if found:
            return found
        at = data.find(b"Exif\x00\x00", at + 6)
    return None


def read_exif(path) -> bytes | None:
    """The camera's EXIF in a RAW file, as a TIFF-structured block (what a PNG ``eXIf`` chunk
    holds), with what :mod:`imgadapt.raw.metadata` copies; ``None`` when there is none, it cannot be
    read, or Pillow is not installed."""
    if _pillow() is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about damaged values; they are skipped
            with open(path, "rb") as fp:
                head = fp.read(16)
                fp.seek(0)
                ifh = _header(head)
                if ifh:
                    found = _from_tiff(fp, ifh)
                elif head[4:12] == b"ftypcrx ":
                    found = _from_cr3(fp)
                else:
                    found = _from_embedded(fp)
    except Exception as exc:  # noqa: BLE001 - metadata must never fail a conversion
        log.debug("%s: no EXIF read (%s: %s)", path, type(exc).__name__, exc)
        return None
    if not found or not any(found):
        return None
    try:
        return _pack(*found)
    except Exception as exc:  # noqa: BLE001
        log.debug("%s: EXIF not copied (%s: %s)", path, type(exc).__name__, exc)
        return None


def _set(ifd: dict, tags: dict) -> None:
    for tag, (value, _) in tags.items():
        ifd[tag] = value


def _pack(first: dict, exif: dict, gps: dict) -> bytes:
    Image, _ = _pillow()
    block = Image.Exif()
    _set(block, first)
    for tag, tags in ((EXIF_IFD, exif), (GPS_IFD, gps)):
        if tags:
            sub = block.get_ifd(tag)
            _set(sub, tags)
            block[tag] = sub  # a dict under the pointer tag: written as a nested directory
    return block.tobytes()[6:]  # without "Exif\0\0"


def _exif(blob: bytes | None):
    Image, _ = _pillow()
    block = Image.Exif()
    if blob:
        block.load(b"Exif\x00\x00" + blob)
    return block


def output_exif(blob: bytes | None, width: int, height: int, orientation: int = 1, software: str | None = None):
    """The EXIF block for an output image: the camera's (``blob`` from :func:`read_exif`) with
    ``Orientation``, ``Software`` and the pixel dimensions of the output; ``None`` without Pillow."""
    if _pillow() is None:
        return None
    from .._version import __version__

    block = _exif(blob)
    if GPS_IFD in block:
        block[GPS_IFD] = block.get_ifd(GPS_IFD)
    exif_ifd = block.get_ifd(EXIF_IFD)
    block[ORIENTATION] = int(orientation)
    block[SOFTWARE] = software or f"imgadapt {__version__}"
    exif_ifd[PIXEL_X] = int(width)
    exif_ifd[PIXEL_Y] = int(height)
    block[EXIF_IFD] = exif_ifd
    return block


def exif_bytes(block) -> bytes:
    """A Pillow ``Exif`` as the TIFF-structured bytes of a PNG ``eXIf`` chunk."""
    return block.tobytes()[6:]


def tiff_directory(block, icc: bytes | None, prefix: bytes, offset: int) -> bytes:
    """First-directory entries to add to a TIFF file: the IFD0 tags of ``block`` (a Pillow
    ``Exif``, may be ``None``) with its EXIF and GPS directories and ``icc`` (InterColorProfile),
    serialised as one image file directory to be placed at ``offset`` of a file of byte order
    ``prefix`` (``b"II"`` or ``b"MM"``)."""
    _, TiffImagePlugin = _pillow()
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=prefix)
    if block is not None:
        for tag, value in block.items():
            if tag not in (EXIF_IFD, GPS_IFD):
                ifd[tag] = value
        for tag in (EXIF_IFD, GPS_IFD):
            sub = block.get_ifd(tag) if tag in block else None
            if sub:
                ifd.tagtype[tag] = 4  # LONG: Pillow writes a dict under it as a nested directory
                ifd[tag] = dict(sub)
    if icc:
        ifd.tagtype[ICC_PROFILE] = 7  # UNDEFINED
        ifd[ICC_PROFILE] = icc
    return ifd.tobytes(offset)


def describe(blob: bytes | None) -> dict[str, object]:
    """The EXIF of :func:`read_exif` by tag name (first-directory, EXIF and GPS tags in one dict)."""
    if not blob or _pillow() is None:
        return {}
    from PIL import ExifTags

    block = _exif(blob)
    names = {**ExifTags.TAGS}
    out = {names.get(t, f"0x{t:04x}"): v for t, v in block.items() if t not in (EXIF_IFD, GPS_IFD)}
    if EXIF_IFD in block:
        out.update({names.get(t, f"0x{t:04x}"): v for t, v in block.get_ifd(EXIF_IFD).items()})
    gps = block.get_ifd(GPS_IFD) if GPS_IFD in block else None
    if gps:
        out["GPSInfo"] = {ExifTags.GPSTAGS.get(t, t): v for t, v in gps.items()}
    return out


# --------------------------------------------------------------------------------------------
# ICC profiles


PROFILE_DATE = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)  # dateTimeNumber of the profiles written


@functools.lru_cache(maxsize=2)
def icc_profile(gamma: str = "srgb") -> bytes | None:
    """The ICC profile of an sRGB output: LittleCMS's sRGB (``gamma="srgb"``), or the same
    primaries and white point with a linear tone curve (``"linear"``); ``None`` without Pillow."""
    try:
        from PIL import ImageCms
    except ImportError:
        return None
    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    # LittleCMS stamps the time of creation: a fixed date makes the bytes of every output the same
    srgb[24:36] = PROFILE_DATE
    if gamma == "srgb":
        return _replace_tags(bytes(srgb), {})
    # curveType with one entry: gamma 1.0 (u8Fixed8Number 0x0100)
    identity = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0100) + bytes(2)
    return _replace_tags(bytes(srgb), {b"rTRC": identity, b"gTRC": identity, b"bTRC": identity,
                                       b"desc": _mluc("sRGB linear (imgadapt)")})


def _mluc(text: str) -> bytes:
    """An ICC v4 multiLocalizedUnicodeType holding ``text`` in en-US."""
    body = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(body), 28) + body


def _replace_tags(profile: bytes, replace: dict[bytes, bytes]) -> bytes:
    """``profile`` with the data of some tags replaced; tags that shared data still share it.
    Size and profile ID (MD5, ICC.1:2010 7.2.18) are recomputed."""
    count = struct.unpack(">I", profile[128:132])[0]
    entries = [struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i]) for i in range(count)]
    data_at = 132 + 12 * count
    blobs: list[bytes] = []
    placed: dict[object, int] = {}
    table = []
    offset = data_at
    for sig, off, size in entries:
        key = ("new", replace[sig]) if sig in replace else ("old", off, size)
        if key not in placed:
            blob = replace[sig] if sig in replace else profile[off:off + size]
            placed[key] = offset
            blobs.append(blob + bytes(-len(blob) % 4))
            offset += len(blobs[-1])
        table.append(struct.pack(">4sII", sig, placed[key], len(key[1]) if key[0] == "new" else key[2]))
    out = bytearray(profile[:128] + struct.pack(">I", count) + b"".join(table) + b"".join(blobs))
    out[0:4] = struct.pack(">I", len(out))
    out[84:100] = bytes(16)
    digest = bytearray(out)
    digest[44:48] = bytes(4)
    digest[64:68] = bytes(4)
    out[84:100] = hashlib.md5(bytes(digest)).digest()
    return bytes(out)
