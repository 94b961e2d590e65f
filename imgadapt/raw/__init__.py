"""Camera RAW files: read the Bayer mosaic and its metadata, develop it into a finished image.

:func:`read` opens camera RAW files (DNG, CR2, NEF, ARW, ORF, RW2, PEF, ...) through LibRaw
(rawpy, the ``raw`` extra: ``pip install "imgadapt[raw]"``) and plain mosaics stored as TIFF, PNG
or NPY with an explicit ``pattern``. :func:`develop` turns a :class:`RawImage` into an ``HxWx3``
BGR image:

1. black level subtracted per CFA site, then scaled by the white level to float32 [0, 1];
2. white balance (``camera``, ``daylight``, ``none`` or R, G, B multipliers; only their ratios
   matter, and they must be finite, positive and within a factor of 1000) and, with
   ``highlights="clip"``, highlight clipping at the level where the least amplified channel
   saturates, on the mosaic as dcraw does, so that blown highlights come out neutral white
   (steps 1 and 2 are one table lookup per CFA site);
3. demosaicking with an imgadapt model (the registry's default unless one is named), in float32;
4. ``highlights="blend"`` or ``"reconstruct"``: clipped channels blended or rebuilt from the
   unclipped ones (:mod:`imgadapt.raw.highlights`, dcraw's ``-H 2`` and ``-H 3+``);
5. colour space (``srgb`` through the camera matrix, or ``raw`` camera RGB) and exposure
   (``auto``: LibRaw's automatic brightness; or a fixed EV), clipped to [0, 1];
6. transfer curve (``srgb`` or ``linear``) and the camera's orientation.

:func:`write` saves the result as PNG or TIFF with the camera's EXIF and the ICC profile of the
output colour space (:mod:`imgadapt.raw.metadata`).

Example:
    >>> import imgadapt.raw
    >>> raw = imgadapt.raw.read("IMG_0001.CR2")                      # doctest: +SKIP
    >>> bgr16 = imgadapt.raw.develop(raw, dtype="uint16")            # doctest: +SKIP
"""
from __future__ import annotations

from . import colour, highlights, metadata
from .develop import (ADJUST_MAXIMUM_THR, PLATEAU, check_exposure, check_raw_image, clipped_sites, develop,
                      normalised_mosaic, saturation, scaled_mosaic, wb_multipliers)
from .image import (COLORSPACES, GAMMAS, HIGHLIGHTS, MAX_EV, MAX_PIXELS, MOSAIC_SUFFIXES, RAW_EXTRA, RAW_SUFFIXES,
                    WB_MODES, RawImage)
from .read import read
from .write import EXIF_ORIENTATION, METADATA_SUFFIXES, exif_tags, write

__all__ = ["read", "develop", "write", "RawImage", "check_raw_image", "check_exposure", "wb_multipliers",
           "normalised_mosaic", "scaled_mosaic", "saturation", "clipped_sites", "exif_tags", "colour", "highlights",
           "metadata", "RAW_EXTRA", "RAW_SUFFIXES", "MOSAIC_SUFFIXES", "MAX_PIXELS", "MAX_EV", "WB_MODES",
           "COLORSPACES", "GAMMAS", "HIGHLIGHTS", "ADJUST_MAXIMUM_THR", "PLATEAU", "EXIF_ORIENTATION",
           "METADATA_SUFFIXES"]
