"""Reading and writing image files (PNG, TIFF, NPY, ...) with atomic writes."""
from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ._errors import InputValueError

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".npy", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"}
EIGHT_BIT_SUFFIXES = {".jpg", ".jpeg", ".bmp"}
MAX_PIXELS = 400_000_000
TEMP_MARK = ".tmp-"


def read_array(path: str | os.PathLike) -> np.ndarray:
    """Read an image or ``.npy`` array unchanged (bit depth and channels kept; colour as BGR)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
    else:
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if array is None:
            raise InputValueError(f"{path}: not a readable image (expected PNG, TIFF, JPEG, BMP, PNM or NPY)")
    if array.ndim >= 2 and array.shape[0] * array.shape[1] > MAX_PIXELS:  # guards the pixels that follow
        raise InputValueError(f"{path}: {array.shape[0]}x{array.shape[1]} pixels exceeds the limit of {MAX_PIXELS}")
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return array


def temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that :func:`write_array` left for ``path`` when its process was killed."""
    path = Path(path)
    pattern = glob.escape(f".{path.name}{TEMP_MARK}") + "*" + glob.escape(path.suffix)
    return sorted(p for p in path.parent.glob(pattern) if p.is_file())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an image (by suffix) or ``.npy`` atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, named after the output and keeping its suffix (which picks the encoder); a run that
    # is killed mid-write leaves at most this file, which temp_files() finds for cleaning.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, array)
        else:
            eight_bit = path.suffix.lower() in EIGHT_BIT_SUFFIXES
            if array.dtype == np.uint16 and eight_bit:
                raise InputValueError(f"{path}: {path.suffix} holds 8 bits per channel, the data has 16; "
                                      "write .png or .tif instead")
            if array.dtype.kind == "f":
                top = 255.0 if eight_bit else 65535.0
                array = np.clip(np.rint(array * top), 0, top).astype(np.uint8 if eight_bit else np.uint16)
            if not cv2.imwrite(tmp, array):
                raise InputValueError(f"{path}: OpenCV cannot write this format or dtype ({array.dtype})")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
        with open(tmp, "rb") as fh:  # on disk before it takes the final name
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
