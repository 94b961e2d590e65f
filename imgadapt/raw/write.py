"""Writing a developed image with the camera's EXIF and the ICC profile of its colour space."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import metadata
from .._checks import check_choice
from .._io import write_array
from .image import COLORSPACES, GAMMAS, RawImage


EXIF_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
METADATA_SUFFIXES = frozenset({".png", ".tif", ".tiff"})


def exif_tags(raw: RawImage) -> dict[str, object]:
    """The camera's EXIF that :func:`read` found (``RawImage.exif``), by tag name: ``Make``,
    ``Model``, ``ExposureTime``, ``DateTimeOriginal``, ... (empty without one, or without Pillow)."""
    return metadata.describe(raw.exif)


def write(path: str | os.PathLike, image: np.ndarray, raw: RawImage | None = None, *, colorspace: str = "srgb",
          gamma: str = "srgb", orient: bool = True, exif: bool = True, icc: bool = True) -> None:
    """Write a developed image atomically, as PNG or TIFF (by suffix) with its metadata.

    Args:
        path: ``.png``, ``.tif`` or ``.tiff`` (other suffixes are written without metadata).
        image: what :func:`develop` returned.
        raw: the :class:`RawImage` it was developed from (its EXIF is copied); ``None``: no EXIF.
        colorspace, gamma: what it was developed with; they choose the ICC profile: sRGB, or sRGB
            primaries with a linear curve; ``colorspace="raw"`` (camera RGB) gets none.
        orient: whether it was developed with ``orient=True``: EXIF Orientation 1 (upright);
            ``False`` records the camera's orientation instead, for viewers to apply.
        exif: copy the camera's EXIF (PNG ``eXIf`` chunk, TIFF EXIF directory) with Orientation,
            Software and the pixel dimensions of the output; ``False`` leaves it out.
        icc: embed the ICC profile (PNG ``iCCP``, TIFF InterColorProfile).

    Metadata needs Pillow (the ``raw`` extra); without it the image is written with pixels only.
    TIFF outputs are Deflate-compressed with a horizontal predictor (tifffile, level 1).
    """
    path = Path(path)
    colorspace = check_choice(colorspace, COLORSPACES, "colour space")
    gamma = check_choice(gamma, GAMMAS, "transfer curve")
    if path.suffix.lower() not in METADATA_SUFFIXES:
        write_array(path, image)
        return
    block = None
    orientation = 1 if orient or raw is None else EXIF_ORIENTATION.get(int(raw.flip), 1)
    if exif and raw is not None and (raw.exif or orientation != 1):
        block = metadata.output_exif(raw.exif, image.shape[1], image.shape[0], orientation)
    profile = metadata.icc_profile(gamma) if icc and colorspace == "srgb" else None
    write_array(path, image, exif=block, icc=profile, compression="deflate")
