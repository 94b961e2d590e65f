"""Reading and writing image files (PNG, TIFF, NPY, ...) with atomic writes.

Reading checks the size the file's header declares before decoding (see :mod:`._headers`).
Writing encodes in memory, then writes a hidden temporary file next to the output, flushes it to
disk and renames it: a failure at any step (a full disk included) leaves no partial file, and is
reported as what it is (``OSError``: no space left on device, permission denied, ...).
"""
from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ._errors import InputSizeError, InputValueError
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


def _encode(path: Path, array: np.ndarray) -> np.ndarray:
    """The bytes of the image file ``path`` names (its suffix picks the format)."""
    eight_bit = path.suffix.lower() in EIGHT_BIT_SUFFIXES
    if array.dtype == np.uint16 and eight_bit:
        raise InputValueError(f"{path}: {path.suffix} holds 8 bits per channel, the data has 16; "
                              "write .png or .tif instead")
    if array.dtype.kind == "f":
        top = 255.0 if eight_bit else 65535.0
        array = np.clip(np.rint(array * top), 0, top).astype(np.uint8 if eight_bit else np.uint16)
    try:
        ok, data = cv2.imencode(path.suffix, array)
    except cv2.error:
        ok = False
    if not ok:
        channels = array.shape[2] if array.ndim == 3 else 1
        raise InputValueError(f"{path}: OpenCV cannot encode {path.suffix} from {channels}-channel {array.dtype} "
                              "data; write .png or .tif instead")
    return data


def write_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an image (by suffix) or ``.npy`` atomically: a temporary file, then a rename.

    Raises:
        InputValueError: the format cannot hold this data. OSError: the file system refused
        (no space left on device, permission denied, ...); its ``filename`` is ``path``.
    """
    path = Path(path)
    data = None if path.suffix.lower() == ".npy" else _encode(path, array)  # before any file is made
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, named after the output and keeping its suffix; a run that is killed mid-write
        # leaves at most this file, which temp_files() finds for cleaning.
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=path.suffix, dir=path.parent)
        with open(fd, "wb") as fh:
            if data is None:
                np.save(fh, array)
            else:
                fh.write(data)
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
