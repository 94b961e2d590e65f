"""Reading and writing image files (PNG, TIFF, NPY, ...) with atomic writes.

Reading checks the size the file's header declares before decoding (see :mod:`._headers`).
Writing encodes in memory, then writes a hidden temporary file next to the output, flushes it to
disk and renames it: a failure at any step (a full disk included) leaves no partial file, and is
reported as what it is (``OSError``: no space left on device, permission denied, ...).

PNG and TIFF files can carry an EXIF block and an ICC profile (:mod:`._metadata` makes them): in
a PNG as ``eXIf`` and ``iCCP`` chunks right after the header chunk; in a TIFF as first-directory
tags (the EXIF and GPS directories, InterColorProfile, Make, Model, ...) appended to the encoded
file with a new first directory that lists the old entries and the new ones.
"""
from __future__ import annotations

import glob
import hashlib
import os
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from .errors import InputSizeError, InputValueError
from ._headers import check_pixels

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".npy", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"}
EIGHT_BIT_SUFFIXES = {".jpg", ".jpeg", ".bmp"}
MAX_PIXELS = 400_000_000
TEMP_MARK = ".tmp-"
NAME_MAX = 255  # bytes per file name, where the file system does not say
_RANDOM = 8  # characters tempfile.mkstemp puts between prefix and suffix


def read_array(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image or ``.npy`` array unchanged (bit depth and channels kept; colour as BGR).

    Raises:
        FileNotFoundError; InputSizeError (the header declares more than ``max_pixels`` pixels:
        refused before decoding); InputValueError (not a PNG, JPEG, TIFF, BMP, PNM or NPY file,
        or a damaged one).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    check_pixels(path, max_pixels)
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
    else:
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if array is None:
            raise InputValueError(f"{path}: not a readable image (expected PNG, TIFF, JPEG, BMP, PNM or NPY)")
    if array.ndim >= 2 and array.shape[0] * array.shape[1] > max_pixels:  # the file changed since its header was read
        raise InputSizeError(f"{path}: {array.shape[1]}x{array.shape[0]} pixels decoded, more than the limit of "
                              f"{max_pixels}")
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return array


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no such folder yet, or no pathconf
        return NAME_MAX


def temp_prefix(path: Path) -> str:
    """The start of the temporary names of ``path``: ``.NAME.tmp-`` when that fits the file
    system's name limit with the random part and the suffix; else a shortened ``NAME`` followed by
    ``~`` and a hash of the whole name, so that any output name that fits has a temporary name that fits."""
    prefix = f".{path.name}{TEMP_MARK}"
    room = _name_max(path.parent) - _RANDOM - len(os.fsencode(path.suffix))
    if len(os.fsencode(prefix)) <= room:
        return prefix
    tag = "~" + hashlib.sha256(os.fsencode(path.name)).hexdigest()[:8] + TEMP_MARK
    keep = max(0, room - 1 - len(tag))
    return "." + os.fsdecode(os.fsencode(path.name)[:keep]) + tag


def temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that :func:`write_array` left for ``path`` when its process was killed."""
    path = Path(path)
    pattern = glob.escape(temp_prefix(path)) + "*" + glob.escape(path.suffix)
    return sorted(p for p in path.parent.glob(pattern) if p.is_file())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _deflate_tiff(array: np.ndarray) -> bytes | None:
    """A TIFF of ``array`` (gray or BGR, 8 or 16 bits), Deflate level 1 with the horizontal
    predictor, by tifffile; ``None`` if tifffile is not installed."""
    try:
        import tifffile
    except ImportError:
        return None
    import io

    data = array[:, :, ::-1] if array.ndim == 3 else array  # TIFF stores RGB
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ascontiguousarray(data), photometric="rgb" if array.ndim == 3 else "minisblack",
                     compression="zlib", compressionargs={"level": 1}, predictor=True, metadata=None)
    return buffer.getvalue()


def _encode(path: Path, array: np.ndarray, compression: str | None = None) -> bytes | np.ndarray:
    """The bytes of the image file ``path`` names (its suffix picks the format); ``compression=
    "deflate"`` makes TIFF files Deflate (level 1, horizontal predictor) with tifffile when it is
    installed, instead of OpenCV's LZW."""
    eight_bit = path.suffix.lower() in EIGHT_BIT_SUFFIXES
    if array.dtype == np.uint16 and eight_bit:
        raise InputValueError(f"{path}: {path.suffix} holds 8 bits per channel, the data has 16; "
                              "write .png or .tif instead")
    if array.dtype.kind == "f":
        top = 255.0 if eight_bit else 65535.0
        array = np.clip(np.rint(array * top), 0, top).astype(np.uint8 if eight_bit else np.uint16)
    if (compression == "deflate" and path.suffix.lower() in (".tif", ".tiff") and array.ndim in (2, 3)
            and (array.ndim == 2 or array.shape[2] == 3) and array.dtype in (np.uint8, np.uint16)):
        data = _deflate_tiff(array)
        if data is not None:
            return data
    try:
        ok, data = cv2.imencode(path.suffix, array)
    except cv2.error:
        ok = False
    if not ok:
        channels = array.shape[2] if array.ndim == 3 else 1
        raise InputValueError(f"{path}: OpenCV cannot encode {path.suffix} from {channels}-channel {array.dtype} "
                              "data; write .png or .tif instead")
    return data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_metadata(data, exif: bytes | None = None, icc: bytes | None = None,
                      icc_name: str = "ICC profile") -> list:
    """PNG data (bytes or a uint8 array) with an ``iCCP`` (``icc``, zlib-compressed) and an
    ``eXIf`` chunk (``exif``: TIFF-structured EXIF) inserted after ``IHDR``, before any image
    data; as a list of buffers to write one after another (the image data is not copied)."""
    view = memoryview(data).cast("B")
    if bytes(view[:8]) != b"\x89PNG\r\n\x1a\n" or bytes(view[12:16]) != b"IHDR":
        raise InputValueError("expected PNG data starting with its IHDR chunk")
    end = 8 + 12 + struct.unpack(">I", view[8:12])[0]
    chunks = b""
    if icc:
        name = icc_name.encode("latin-1", "replace")[:79] or b"ICC profile"
        chunks += _png_chunk(b"iCCP", name + b"\x00\x00" + zlib.compress(icc))
    if exif:
        chunks += _png_chunk(b"eXIf", exif)
    return [view[:end], chunks, view[end:]]


def tiff_with_metadata(data, exif=None, icc: bytes | None = None) -> list:
    """TIFF data (bytes or a uint8 array) with the tags of ``exif`` (a Pillow ``Exif``:
    first-directory tags, EXIF and GPS directories) and ``icc`` added to the first image file
    directory; as a list of buffers to write one after another (the image data is not copied).

    The new tags are appended as a directory of their own (its entries point into the data that
    follows it), then a new first directory holding the old entries and those, sorted by tag; the
    header points to it. The old entries keep their values where they are. Classic TIFF only."""
    from .raw import metadata

    view = memoryview(data).cast("B")
    head = bytes(view[:8])
    if head[:4] not in (b"II*\x00", b"MM\x00*"):
        raise InputValueError("expected classic TIFF data (II*\\0 or MM\\0*)")
    order = "<" if head[:2] == b"II" else ">"
    first = struct.unpack(order + "I", head[4:8])[0]
    count = struct.unpack(order + "H", view[first:first + 2])[0]
    table = bytes(view[first + 2:first + 6 + 12 * count])
    entries = {struct.unpack(order + "H", table[12 * i:12 * i + 2])[0]: table[12 * i:12 * i + 12] for i in range(count)}
    following = table[12 * count:12 * count + 4]
    size = len(view) + len(view) % 2
    added = metadata.tiff_directory(exif, icc, head[:2], size)
    for i in range(struct.unpack(order + "H", added[:2])[0]):
        entry = added[2 + 12 * i:14 + 12 * i]
        entries[struct.unpack(order + "H", entry[:2])[0]] = entry
    added += bytes(len(added) % 2)
    new_first = size + len(added)
    directory = struct.pack(order + "H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + following
    return [head[:4] + struct.pack(order + "I", new_first), view[8:], bytes(len(view) % 2), added, directory]


def write_array(path: str | os.PathLike, array: np.ndarray, *, exif=None, icc: bytes | None = None,
                compression: str | None = None) -> None:
    """Write an image (by suffix) or ``.npy`` atomically: a temporary file, then a rename.

    Args:
        exif: PNG and TIFF: a Pillow ``Exif`` to embed (:func:`imgadapt.raw.metadata.output_exif`).
        icc: PNG and TIFF: an ICC profile to embed.
        compression: ``"deflate"``: TIFF files Deflate level 1 with the horizontal predictor
            (tifffile); ``None``: OpenCV's defaults.

    Raises:
        InputValueError: the format cannot hold this data. OSError: the file system refused
        (no space left on device, permission denied, ...); its ``filename`` is ``path``.
    """
    path = Path(path)
    data = None if path.suffix.lower() == ".npy" else _encode(path, array, compression)  # before any file is made
    parts = None if data is None else [data]
    if data is not None and (exif is not None or icc):
        suffix = path.suffix.lower()
        if suffix == ".png":
            from .raw.metadata import exif_bytes

            parts = png_with_metadata(data, exif_bytes(exif) if exif is not None else None, icc)
        elif suffix in (".tif", ".tiff"):
            parts = tiff_with_metadata(data, exif, icc)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, named after the output and keeping its suffix; a run that is killed mid-write
        # leaves at most this file, which temp_files() finds for cleaning.
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=path.suffix, dir=path.parent)
        with open(fd, "wb") as fh:
            if parts is None:
                np.save(fh, array)
            else:
                for part in parts:
                    fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it takes the final name
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
        hidden = str(path.parent / temp_prefix(path))
        if isinstance(exc, OSError) and exc.errno is not None and str(exc.filename or hidden).startswith(hidden):
            # name the output, not the hidden temporary file
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise
