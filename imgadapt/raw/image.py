"""The RAW frame as imgadapt holds it (:class:`RawImage`), the file kinds and the option names."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np



RAW_EXTRA = 'pip install "imgadapt[raw]"'

# Extensions of the camera RAW formats LibRaw reads (a folder is scanned for these).
RAW_SUFFIXES = frozenset({
    ".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng", ".eip",
    ".erf", ".fff", ".iiq", ".k25", ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef",
    ".ptx", ".raf", ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
})
# Plain mosaics: one sample per pixel, pattern given by the caller.
MOSAIC_SUFFIXES = frozenset({".tif", ".tiff", ".png", ".npy", ".pgm"})

# Decompression-bomb guard: refuse frames above this many pixels before decoding them.
MAX_PIXELS = 200_000_000

WB_MODES = ("camera", "daylight", "none")
COLORSPACES = ("srgb", "raw")
GAMMAS = ("srgb", "linear")
HIGHLIGHTS = ("clip", "blend", "reconstruct")
# Fixed exposures beyond this many EV either way turn any image white or black.
MAX_EV = 24.0


@dataclass(frozen=True, eq=False)
class RawImage:
    """A Bayer mosaic and what is needed to develop it.

    Attributes:
        mosaic: ``HxW`` visible sensor area, as stored (uint16 for camera RAW files).
        pattern: colours of the top-left 2x2 of ``mosaic``, row by row: ``RGGB``, ``BGGR``, ``GRBG`` or ``GBRG``.
        black_levels: black level of each site of that 2x2, in the same order.
        white_level: the saturation level.
        camera_wb: as-shot white-balance multipliers (R, G, B), G = 1; ``None`` if not recorded.
        daylight_wb: daylight multipliers (R, G, B), G = 1; ``None`` if unknown.
        xyz_to_camera: 3x3 XYZ -> camera RGB matrix when LibRaw reports one (its ``rgb_xyz_matrix``).
        camera_to_srgb: 3x3 camera RGB -> linear sRGB matrix; ``None`` if the file has no colour
            calibration (plain mosaics, unknown cameras).
        flip: LibRaw orientation code (0 upright, 3 180°, 5 90° counter-clockwise, 6 90° clockwise).
        source: the file it came from.
        unusable: metadata the file records but that cannot be used, by attribute name
            (``camera_wb``, ``daylight_wb``, ``camera_to_srgb``) with the reason; those attributes
            are ``None``, and :func:`develop` fails with the reason when it needs one of them.
        exif: the camera's EXIF (camera, lens, exposure, date, GPS) as a TIFF-structured block,
            as :func:`write` copies it into outputs; ``None`` when the file has none that
            :mod:`imgadapt.raw.metadata` reads. :func:`exif_tags` gives it by tag name.
    """

    mosaic: np.ndarray
    pattern: str
    black_levels: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    white_level: float = 65535.0
    camera_wb: tuple[float, float, float] | None = None
    daylight_wb: tuple[float, float, float] | None = None
    xyz_to_camera: np.ndarray | None = field(default=None, repr=False)
    camera_to_srgb: np.ndarray | None = field(default=None, repr=False)
    flip: int = 0
    source: str = ""
    unusable: dict[str, str] = field(default_factory=dict, repr=False)
    exif: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        h, w = self.mosaic.shape[:2]
        return (f"RawImage({self.source!r}, {h}x{w} {self.mosaic.dtype} {self.pattern}, black={self.black_levels}, "
                f"white={self.white_level:g}, camera_wb={self.camera_wb}, flip={self.flip})")

    @property
    def megapixels(self) -> float:
        return self.mosaic.shape[0] * self.mosaic.shape[1] / 1e6


# --------------------------------------------------------------------------------------------
# Reading
