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
   unclipped ones (:mod:`imgadapt._highlights`, dcraw's ``-H 2`` and ``-H 3+``);
5. colour space (``srgb`` through the camera matrix, or ``raw`` camera RGB) and exposure
   (``auto``: LibRaw's automatic brightness; or a fixed EV), clipped to [0, 1];
6. transfer curve (``srgb`` or ``linear``) and the camera's orientation.

:func:`write` saves the result as PNG or TIFF with the camera's EXIF and the ICC profile of the
output colour space (:mod:`imgadapt._metadata`).

Example:
    >>> import imgadapt.raw
    >>> raw = imgadapt.raw.read("IMG_0001.CR2")                      # doctest: +SKIP
    >>> bgr16 = imgadapt.raw.develop(raw, dtype="uint16")            # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import _bayer, _colour, _highlights, _metadata
from ._checks import check_choice, check_image
from ._errors import (
    CorruptRawError,
    InputDtypeError,
    InputShapeError,
    InputSizeError,
    InputValueError,
    UnsupportedRawError,
)
from ._headers import format_megapixels
from ._io import read_array, write_array

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
            :mod:`imgadapt._metadata` reads. :func:`exif_tags` gives it by tag name.
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


def _import_rawpy():
    try:
        import rawpy
    except ImportError as exc:
        raise ImportError(f"reading camera RAW files needs rawpy (LibRaw): {RAW_EXTRA}") from exc
    return rawpy


def _sniff(path: Path) -> tuple[str, bool]:
    """What a file LibRaw refused looks like, and whether that is certainly not a RAW file
    (camera RAW formats are TIFF-based or proprietary; JPEG, PNG, text and the like are not)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "the file is empty", True
    kinds = ((b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
             (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"))
    for magic, kind in kinds:
        if head.startswith(magic):
            return f"it is {kind}", True
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "it is a TIFF file without RAW data LibRaw knows", False
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "it is text", True
    return f"it starts with the bytes {head[:8].hex(' ')}", False


def _libraw_reason(exc) -> str:
    text = exc.args[0] if exc.args else ""
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"LibRaw: {text}" if text else f"LibRaw: {type(exc).__name__}"


def _check_pixels(path, height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise InputSizeError(f"{path}: {width}x{height} = {height * width:,} pixels "
                             f"({format_megapixels(height * width)} MP) exceed the limit of {max_pixels:,} pixels "
                             f"({format_megapixels(max_pixels)} MP; raise max_pixels / --max-megapixels to allow it)")


def _normalised_wb(values, what: str) -> tuple[tuple[float, float, float] | None, str | None]:
    """(R, G, B) multipliers with G = 1 from LibRaw's 4 values and ``None``; ``(None, None)`` when the
    file records none (LibRaw reports R = B = 0 then); ``(None, reason)`` when what it records is
    not finite, not positive, or wider apart than :data:`imgadapt._colour.MAX_WB_RATIO`."""
    v = [float(x) for x in list(values)[:3]]
    if len(v) < 3 or (v[0] == 0 and v[2] == 0):
        return None, None
    try:
        r, g, b = _colour.check_multipliers(v, what)
    except InputValueError as exc:
        return None, str(exc).removeprefix(f"{what}: ")
    return (float(r / g), 1.0, float(b / g)), None


# DNG / TIFF-EP CFAPattern colour codes.
_CFA_LETTERS = "RGBCMYW"
_BAYER_EXPECTED = "expected one each of R and B and two G on a diagonal of the 2x2 (RGGB, BGGR, GRBG or GBRG)"


def _dng_cfa_colours(path: Path) -> str | None:
    """The colours of a DNG's CFAPattern tag, e.g. ``"R,R,R,R"``, read with tifffile; ``None`` when
    the file has no such tag or tifffile cannot read it (LibRaw's view is used then)."""
    try:
        import tifffile
    except ImportError:
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            pages = list(tif.pages)
            for page in list(pages):
                pages += list(getattr(page, "pages", None) or [])  # SubIFDs: the raw frame of most DNGs
            for page in pages:
                tag = page.tags.get(33422)  # CFAPattern
                if tag is not None:
                    value = tag.value
                    codes = [int(c) for c in (value if isinstance(value, (bytes, tuple, list)) else [value])]
                    return ",".join(_CFA_LETTERS[c] if c < len(_CFA_LETTERS) else f"code {c}" for c in codes[:36])
    except Exception:  # noqa: BLE001 - a description for an error message; LibRaw's view is the fallback
        return None
    return None


def _colour_error(source, what: str, reason: str) -> str:
    return f"{source}: the {what} the file records cannot be used: {reason}"


def _read_libraw(path: Path, max_pixels: int) -> RawImage:
    rawpy = _import_rawpy()
    raw = rawpy.RawPy()
    try:
        try:
            raw.open_file(str(path))
        except rawpy.LibRawError as exc:
            kind, not_raw = _sniff(path)
            if not_raw or isinstance(exc, rawpy.LibRawFileUnsupportedError):
                raise UnsupportedRawError(f"{path}: expected a camera RAW file LibRaw reads, but {kind}") from None
            raise CorruptRawError(f"{path}: the RAW file cannot be read, it is probably truncated or corrupt "
                                  f"({_libraw_reason(exc)})") from None
        sizes = raw.sizes
        _check_pixels(path, sizes.raw_height, sizes.raw_width, max_pixels)
        try:
            raw.unpack()  # rawpy's properties below need the unpacked data
        except rawpy.LibRawError as exc:
            raise CorruptRawError(f"{path}: the RAW data cannot be decoded, the file is probably truncated or "
                                  f"corrupt ({_libraw_reason(exc)})") from None
        if raw.raw_type != rawpy.RawType.Flat:
            raise UnsupportedRawError(f"{path}: expected a Bayer mosaic, got {sizes.raw_height}x{sizes.raw_width} "
                                      "pixels with several colours each (Foveon or an already demosaiced linear DNG)")
        desc = raw.color_desc.decode(errors="replace")
        if raw.num_colors < 3:  # a CFA of one or two colours: LibRaw's colour names mean nothing then
            colours = _dng_cfa_colours(path)
            arrived = (f"colours {colours}" if colours else
                       f"{raw.num_colors} colour{'s' if raw.num_colors != 1 else ''} only")
            raise UnsupportedRawError(f"{path}: the CFA pattern holds {arrived}: {_BAYER_EXPECTED}")
        if raw.num_colors != 3 or desc[:3] != "RGB":
            words = {3: "three", 4: "four"}.get(raw.num_colors, str(raw.num_colors))
            raise UnsupportedRawError(f"{path}: expected an RGB Bayer sensor, got a {words}-colour "
                                      f"{desc[:raw.num_colors]} sensor")
        cfa = raw.raw_pattern
        if cfa is None or cfa.shape != (2, 2):
            what = "X-Trans " if cfa is not None and cfa.shape == (6, 6) else ""
            shape = "unknown" if cfa is None else f"{cfa.shape[0]}x{cfa.shape[1]}"
            raise UnsupportedRawError(f"{path}: expected a 2x2 Bayer pattern, got a {what}{shape} colour filter array")
        mosaic = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
        codes = np.asarray(raw.raw_colors_visible[:2, :2])
        if min(mosaic.shape) < 2:
            raise InputSizeError(f"{path}: expected a visible area of at least 2x2 pixels, got {mosaic.shape}")
        pattern = "".join(desc[c] if 0 <= c < len(desc) else "?" for c in codes.ravel())
        if pattern not in _bayer.PATTERNS:
            raise UnsupportedRawError(f"{path}: the CFA pattern holds colours {','.join(pattern)}: {_BAYER_EXPECTED}")
        black = raw.black_level_per_channel
        black_levels = tuple(float(black[c]) for c in codes.ravel())
        white = float(raw.white_level)
        if not white > max(black_levels):
            raise CorruptRawError(f"{path}: white level {white:g} is not above the black levels {black_levels}")
        unusable: dict[str, str] = {}
        xyz_cam = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
        cam_to_srgb = None
        if np.any(xyz_cam):
            xyz_to_camera = xyz_cam
            try:
                cam_to_srgb = _colour.camera_to_srgb(xyz_cam)
            except (InputValueError, InputShapeError) as exc:
                unusable["camera_to_srgb"] = _colour_error(path, "camera colour matrix (XYZ -> camera)", str(exc))
        else:
            # DNG files: LibRaw builds camera -> sRGB from ColorMatrix (the same way) without
            # reporting the XYZ matrix. Exactly the identity means LibRaw has no calibration.
            xyz_to_camera, rgb_cam = None, np.asarray(raw.color_matrix, dtype=np.float64)[:, :3]
            if not np.array_equal(rgb_cam, np.eye(3)):
                try:
                    cam_to_srgb = _colour.check_matrix(rgb_cam, "camera_to_srgb")
                except InputValueError as exc:
                    unusable["camera_to_srgb"] = _colour_error(
                        path, "colour matrix (ColorMatrix, as camera RGB -> sRGB)",
                        str(exc).removeprefix("camera_to_srgb: "))
        camera_wb, why = _normalised_wb(raw.camera_whitebalance, "as-shot white balance")
        if why:
            unusable["camera_wb"] = _colour_error(path, "as-shot white balance", why)
        daylight_wb, why = _normalised_wb(raw.daylight_whitebalance, "daylight white balance")
        if "camera_to_srgb" in unusable and daylight_wb is not None:
            # LibRaw derives the daylight multipliers from the same colour matrix.
            daylight_wb, why = None, "it is derived from the colour matrix, which cannot be used"
        if why:
            unusable["daylight_wb"] = _colour_error(path, "daylight white balance", why)
        return RawImage(
            mosaic=mosaic, pattern=pattern, black_levels=black_levels, white_level=white,
            camera_wb=camera_wb, daylight_wb=daylight_wb, xyz_to_camera=xyz_to_camera, camera_to_srgb=cam_to_srgb,
            flip=int(sizes.flip), source=str(path), unusable=unusable, exif=_metadata.read_exif(path))
    finally:
        raw.close()


def _read_plain(path: Path, pattern: str | None, white_level: float | None, max_pixels: int) -> RawImage:
    if pattern is None:
        raise InputValueError(f"{path}: a plain mosaic ({path.suffix}) does not record its Bayer pattern; "
                                  "pass pattern= / --pattern (RGGB, BGGR, GRBG or GBRG)")
    pattern = _bayer.check_pattern(pattern)
    mosaic = read_array(path, max_pixels)  # the header is checked against the limit before decoding
    if mosaic.ndim == 3 and mosaic.shape[2] == 1:
        mosaic = mosaic[:, :, 0]
    if mosaic.ndim != 2:
        raise InputShapeError(f"{path}: expected a one-channel HxW mosaic, got shape {mosaic.shape}")
    _check_pixels(path, *mosaic.shape, max_pixels)
    if min(mosaic.shape) < 2:
        raise InputSizeError(f"{path}: expected at least 2x2 pixels, got {mosaic.shape}")
    if mosaic.dtype.kind == "u" and mosaic.dtype.itemsize <= 2:
        full = float(np.iinfo(mosaic.dtype).max)
    elif mosaic.dtype in (np.float32, np.float64):
        full = 1.0
        if not np.isfinite(mosaic).all():
            raise InputValueError(f"{path}: expected finite values, got NaN or inf")
    else:
        raise InputDtypeError(f"{path}: expected a uint8, uint16 or float mosaic, got {mosaic.dtype}")
    if white_level is not None:
        if mosaic.dtype.kind == "f" or not 0 < float(white_level) <= full:
            raise InputValueError(f"{path}: white_level applies to integer data up to {full:g}, got {white_level} "
                                  f"for {mosaic.dtype}")
        full = float(white_level)
    return RawImage(mosaic=mosaic, pattern=pattern, white_level=full, source=str(path))


def read(path: str | os.PathLike, pattern: str | None = None, white_level: float | None = None,
         max_pixels: int = MAX_PIXELS) -> RawImage:
    """Read a camera RAW file (through LibRaw) or a plain mosaic (TIFF, PNG, NPY).

    Args:
        path: the file. Suffixes in :data:`MOSAIC_SUFFIXES` are plain mosaics; anything else goes
            to LibRaw.
        pattern: Bayer pattern of a plain mosaic (required for them; ignored for camera RAW files,
            which record it).
        white_level: full scale of a plain integer mosaic below its dtype's maximum (e.g. 4095).
        max_pixels: refuse larger frames before decoding them.

    Raises:
        FileNotFoundError, UnsupportedRawError (not RAW, X-Trans, four-colour, ...),
        CorruptRawError (truncated or undecodable), InputSizeError (over ``max_pixels``),
        ImportError (rawpy missing, for camera RAW files).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 4:
        raise InputValueError(f"max_pixels: expected an integer >= 4, got {max_pixels!r}")
    if path.suffix.lower() in MOSAIC_SUFFIXES:
        return _read_plain(path, pattern, white_level, max_pixels)
    return _read_libraw(path, max_pixels)


# --------------------------------------------------------------------------------------------
# Developing


def check_raw_image(raw: RawImage) -> None:
    """A :class:`RawImage` made by hand holds what :func:`read` would give: an ``HxW`` mosaic of a
    supported dtype with finite values, a known pattern, finite black levels and a finite white
    level above every black level (not above the dtype's maximum for integer data).

    Raises:
        InputShapeError, InputDtypeError, InputSizeError, InputValueError, UnknownNameError.
    """
    name = f"{raw.source or 'RawImage'}: mosaic"
    check_image(raw.mosaic, name=name, channels=(1,), min_size=2, unit_range=False)
    if raw.mosaic.ndim != 2:
        raise InputShapeError(f"{name}: expected HxW, got shape {raw.mosaic.shape}")
    _bayer.check_pattern(raw.pattern)
    blacks, white = raw.black_levels, raw.white_level
    numbers = [*blacks, white] if isinstance(blacks, (tuple, list)) and len(blacks) == 4 else None
    if numbers is None or any(isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in numbers):
        raise InputValueError(f"{name}: expected 4 black levels and a white level as numbers, "
                              f"got black_levels={blacks!r}, white_level={white!r}")
    if not all(np.isfinite(v) for v in numbers) or not white > max(blacks):
        raise InputValueError(f"{name}: expected finite levels with the white level above every black level, "
                              f"got black_levels={tuple(blacks)}, white_level={white!r}")
    if raw.mosaic.dtype.kind == "u" and white > np.iinfo(raw.mosaic.dtype).max:
        raise InputValueError(f"{name}: expected a white level up to {np.iinfo(raw.mosaic.dtype).max} for "
                              f"{raw.mosaic.dtype} data, got {white!r}")


def normalised_mosaic(raw: RawImage) -> np.ndarray:
    """``HxW`` float32 mosaic: black subtracted per CFA site, divided by (white - black), clipped to [0, 1]."""
    x = raw.mosaic.astype(np.float32)
    for k, black in enumerate(raw.black_levels):
        dy, dx = divmod(k, 2)
        site = x[dy::2, dx::2]
        site -= np.float32(black)
        site *= np.float32(1.0 / (raw.white_level - black))
    return np.clip(x, 0.0, 1.0, out=x)


def wb_multipliers(raw: RawImage, wb="camera") -> np.ndarray:
    """White-balance multipliers (R, G, B) for ``wb``: ``"camera"``, ``"daylight"``, ``"none"`` or 3 numbers.

    Only their ratios matter (as in dcraw): they are returned scaled so that the smallest is 1,
    which leaves the exposure of the least amplified channel unchanged.

    Raises:
        InputValueError: multipliers that are not 3 finite, positive numbers within a factor of
            1000 of each other (:func:`imgadapt._colour.check_multipliers`), or ``camera`` /
            ``daylight`` asked of a file that records none.
        CorruptRawError: ``camera`` / ``daylight`` asked of a file whose record of them cannot be
            used (zero, non-finite or absurd multipliers); there is no silent fallback.
    """
    if isinstance(wb, str):
        wb = check_choice(wb.lower(), WB_MODES, "white balance")
        if wb == "none":
            return np.ones(3)
        name = "camera_wb" if wb == "camera" else "daylight_wb"
        values = getattr(raw, name)
        if values is None and name in raw.unusable:
            other = "daylight" if wb == "camera" else "camera"
            raise CorruptRawError(f"{raw.unusable[name]}; use wb='none', '{other}' or multipliers (R, G, B)")
        if values is None:
            raise InputValueError(f"{raw.source or 'image'}: white balance {wb!r} asked, but the file records "
                                  "none; use wb='none', 'daylight' or multipliers (R, G, B)")
        return _ratios(_colour.check_multipliers(values, f"{raw.source or 'image'}: {name}"))
    try:
        np.asarray(wb, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputDtypeError(f"wb: expected one of {', '.join(WB_MODES)} or 3 numbers, got {wb!r}") from None
    return _ratios(_colour.check_multipliers(wb, "wb"))


def _ratios(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values / values.min()


def check_exposure(exposure) -> float | None:
    """``None`` for ``"auto"``, else the exposure in EV as a float (finite, within :data:`MAX_EV`).

    Raises:
        UnknownNameError: a string other than ``auto``. InputDtypeError: not a string or a number.
        InputValueError: not finite, or beyond :data:`MAX_EV`.
    """
    if isinstance(exposure, str):
        check_choice(exposure.lower(), ("auto",), "exposure")
        return None
    if isinstance(exposure, (bool, np.bool_)) or not isinstance(exposure, (int, float, np.integer, np.floating)):
        raise InputDtypeError(f"exposure: expected 'auto' or a number of EV, got {type(exposure).__name__}")
    ev = float(exposure)
    if not np.isfinite(ev) or abs(ev) > MAX_EV:
        raise InputValueError(f"exposure: expected 'auto' or a finite number of EV within +-{MAX_EV:g}, "
                              f"got {exposure!r}")
    return ev


def _site_gains(raw: RawImage, mults: np.ndarray) -> list[float]:
    index = {"R": 0, "G": 1, "B": 2}
    return [float(mults[index[c]]) for c in raw.pattern]


def scaled_mosaic(raw: RawImage, gains, ceiling: float | None = None, dtype=np.float32) -> np.ndarray:
    """``HxW`` mosaic: per CFA site k (top-left 2x2, row by row) black subtracted, divided by
    (white - black), clipped to [0, 1], times ``gains[k]`` and clipped at ``ceiling``; float32,
    or uint16 (times 65535, rounded; ``ceiling`` at most 1).

    Integer mosaics take one table lookup per site (the table maps every possible value)."""
    m = raw.mosaic
    dtype = np.dtype(dtype)
    out = np.empty(m.shape, dtype)
    integer = m.dtype.kind == "u" and m.dtype.itemsize <= 2
    levels = np.arange(np.iinfo(m.dtype).max + 1, dtype=np.float64) if integer else None
    for k, (black, gain) in enumerate(zip(raw.black_levels, gains)):
        dy, dx = divmod(k, 2)
        scale = 1.0 / (raw.white_level - black)
        if integer:
            table = np.clip((levels - black) * scale, 0.0, 1.0) * gain
            if ceiling is not None:
                np.minimum(table, ceiling, out=table)
            out[dy::2, dx::2] = _as(table, dtype)[m[dy::2, dx::2]]
        else:
            site = np.clip((m[dy::2, dx::2].astype(np.float64) - black) * scale, 0.0, 1.0) * gain
            out[dy::2, dx::2] = _as(site if ceiling is None else np.minimum(site, ceiling), dtype)
    return out


def _as(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint16:
        return np.rint(np.clip(values, 0.0, 1.0) * 65535).astype(np.uint16)
    return values.astype(dtype)


# A sensor that clips below the white level its file records: LibRaw takes the largest sample
# as the white level when it lies above this fraction of it (adjust_maximum_thr); imgadapt also
# asks for a plateau there (saturated samples pile up at one level, a bright but unclipped
# image does not), of at least this fraction of the samples (and 16).
ADJUST_MAXIMUM_THR = 0.75
PLATEAU = (0.005, 1e-4)  # within 0.5 % of the largest sample, at least 1/10000 of the samples


def saturation(raw: RawImage) -> float:
    """The level, as a fraction of the range from black to white, at which the sensor clipped:
    1, or the largest sample's level when it is above :data:`ADJUST_MAXIMUM_THR` and at least
    :data:`PLATEAU` of the samples lie within 0.5 % of it. Highlights are clipped there (so that
    a sensor clipping below its recorded white level still gives neutral highlights); the scale
    of the data is not changed."""
    sites = [raw.mosaic[dy::2, dx::2] for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1))]
    spans = [raw.white_level - black for black in raw.black_levels]
    top = max((float(site.max()) - black) / span for site, black, span in zip(sites, raw.black_levels, spans))
    if not ADJUST_MAXIMUM_THR < top < 1.0:
        return 1.0
    near = top * (1.0 - PLATEAU[0])
    count = sum(int(np.count_nonzero(site >= black + near * span))
                for site, black, span in zip(sites, raw.black_levels, spans))
    return top if count >= max(16, PLATEAU[1] * raw.mosaic.size) else 1.0


def clipped_sites(raw: RawImage, level: float = 1.0) -> np.ndarray:
    """``HxW`` bool: the samples at :data:`imgadapt._highlights.CLIPPED_FRACTION` of ``level``
    (a fraction of the range from black to white, :func:`saturation`) or above."""
    out = np.empty(raw.mosaic.shape, bool)
    for k, black in enumerate(raw.black_levels):
        dy, dx = divmod(k, 2)
        limit = black + _highlights.CLIPPED_FRACTION * level * (raw.white_level - black)
        out[dy::2, dx::2] = raw.mosaic[dy::2, dx::2] >= limit
    return out


def develop(raw: RawImage | str | os.PathLike, model=None, *, wb="camera", colorspace: str = "srgb",
            gamma: str = "srgb", orient: bool = True, dtype=np.float32, exposure="auto",
            highlights: str = "clip") -> np.ndarray:
    """Develop a RAW image into an ``HxWx3`` BGR image.

    Args:
        raw: a :class:`RawImage` from :func:`read`, or a path to read (camera RAW files only).
        model: a demosaicking model name, a loaded :class:`imgadapt.Model`, or ``None`` for the
            registry's default.
        wb: ``"camera"`` (as shot), ``"daylight"``, ``"none"`` or multipliers ``(R, G, B)``.
        colorspace: ``"srgb"`` (camera RGB -> linear sRGB through the camera matrix) or ``"raw"``
            (camera RGB).
        gamma: ``"srgb"`` (the sRGB transfer curve) or ``"linear"``.
        orient: turn the image as the camera recorded (LibRaw ``flip``).
        dtype: ``float32`` (0-1), ``uint8`` or ``uint16`` (rounded).
        exposure: ``"auto"`` (default): the brightness of LibRaw's default development. LibRaw's
            automatic brightness (``auto_bright_thr=0.01``) takes the level exceeded by 1 % of the
            pixels, in the brightest channel of the linear output, to white (gain 1 to 256); with
            ``gamma="srgb"`` the gain is then lowered, not below 1, until the mean level equals
            that of LibRaw's BT.709-like default curve (:func:`imgadapt._colour.auto_gain`). A
            number: that many EV on the sensor's scale (``0``: the white level of the least
            amplified channel is white, as LibRaw's ``no_auto_bright``; ``-1`` halves, ``1``
            doubles).
        highlights: ``"clip"`` (default; dcraw ``-H 0``): blown highlights neutral white;
            ``"blend"`` (``-H 2``) or ``"reconstruct"`` (``-H 3+``): see :mod:`imgadapt._highlights`;
            what they recover above white shows with an exposure below 0 EV.

    Returns:
        ``HxWx3`` BGR (``WxHx3`` when the orientation turns it by 90°).

    With ``wb="none", colorspace="raw", gamma="linear", exposure=0`` the result is the
    demosaicked, black- and white-scaled sensor data, linear in light.

    Integer output with ``highlights="clip"`` is developed in 16-bit integers, as LibRaw develops:
    the mosaic, the model's output, then the matrix and the exposure in one ``cv2.transform`` and,
    for sRGB, one table lookup (16-bit output within a few levels of 65535 of the exact curve,
    8-bit within one; see :func:`imgadapt._colour.finish`). Float output and the other highlight
    modes are developed in float32.

    Raises:
        InputValueError: bad multipliers (see :func:`wb_multipliers`), ``camera`` / ``daylight`` /
            ``srgb`` asked of an image that records no white balance or colour matrix, or an
            exposure that is not finite or beyond :data:`MAX_EV`.
        CorruptRawError: the file records them, but they cannot be used (``RawImage.unusable``:
            an all-zero, singular, ill-conditioned or non-finite colour matrix; zero, non-finite or
            absurd multipliers); ``colorspace="raw"`` and other ``wb`` choices do without them.
    """
    from ._model import check_model_arg

    if not isinstance(raw, RawImage):
        raw = read(raw)
    check_raw_image(raw)
    colorspace = check_choice(colorspace, COLORSPACES, "colour space")
    gamma = check_choice(gamma, GAMMAS, "transfer curve")
    highlights = check_choice(highlights, HIGHLIGHTS, "highlights")
    ev = check_exposure(exposure)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.uint8, np.uint16):
        raise InputDtypeError(f"dtype: expected float32, uint8 or uint16, got {dtype}")
    mults = wb_multipliers(raw, wb)
    if colorspace == "srgb" and raw.camera_to_srgb is None:
        if "camera_to_srgb" in raw.unusable:
            raise CorruptRawError(f"{raw.unusable['camera_to_srgb']}; use colorspace='raw' (--colorspace raw)")
        raise InputValueError(f"{raw.source or 'image'}: colorspace 'srgb' needs the camera's colour matrix, and "
                              "this file has none; use colorspace='raw'")
    matrix = None
    if colorspace == "srgb":
        matrix = _colour.check_matrix(raw.camera_to_srgb, f"{raw.source or 'image'}: camera_to_srgb")
    demosaicker = check_model_arg(model, "demosaic")
    return _develop(raw, demosaicker, mults, matrix, gamma, dtype, ev, highlights, orient)


def _no_mark(stage: str) -> None:
    return None


def _develop(raw: RawImage, demosaicker, mults: np.ndarray, matrix, gamma: str, dtype: np.dtype, ev: float | None,
             highlights: str, orient: bool, mark=_no_mark) -> np.ndarray:
    """:func:`develop` after its checks; ``mark(stage)`` is called as each stage ends (profiling)."""
    gains = _site_gains(raw, mults)
    top = float(mults.max())
    h, w = raw.mosaic.shape
    level = saturation(raw)
    if highlights == "clip":
        # White balance and highlight clipping on the mosaic, as dcraw does: a sample above the
        # saturation of the least amplified channel (``level``, 1 unless the sensor clips below
        # its white level; the multipliers' smallest is 1) is clipped there before demosaicking,
        # so blown highlights come out neutral, without coloured fringes. For integer output the
        # mosaic, the demosaicked image and the linear output are 16-bit integers, as in LibRaw
        # (the model rounds and clips its output).
        x = scaled_mosaic(raw, gains, ceiling=level, dtype=np.float32 if dtype == np.float32 else np.uint16)
        mark("scale")
        bgr = np.ascontiguousarray(demosaicker(x, pattern=raw.pattern))
        del x
        # at the clipping level, where the model overshoots next to clipped regions
        top_value = level * (65535.0 if bgr.dtype == np.uint16 else 1.0)
        if bgr.dtype == np.float32 or level < 1.0:
            cv2.min(bgr.reshape(h, w * 3), np.round(top_value) if bgr.dtype == np.uint16 else top_value,
                    dst=bgr.reshape(h, w * 3))
        mark("demosaic")
    else:
        # Multipliers over the largest: every sample stays in [0, 1] for the model; the gain comes
        # back after demosaicking, where channel c saturates at its multiplier.
        x = scaled_mosaic(raw, [g / top for g in gains])
        mark("scale")
        bgr = np.ascontiguousarray(demosaicker(x, pattern=raw.pattern), dtype=np.float32)
        del x
        mark("demosaic")
        bgr *= np.float32(top)
        if highlights == "blend":
            _highlights.blend(bgr, level)
        else:
            _highlights.reconstruct(bgr, _highlights.clipped_blocks(clipped_sites(raw, level), raw.pattern))
        mark("highlights")
    gain = _colour.auto_gain(bgr, matrix, gamma) if ev is None else 2.0 ** ev
    mark("exposure")
    out = _colour.finish(bgr, matrix, gain, gamma, dtype)
    mark("colour+curve")
    if orient and raw.flip:
        out = _colour.orient(out, raw.flip)
    out = np.ascontiguousarray(out)
    mark("orient")
    return out


# LibRaw's flip codes as EXIF orientations (dcraw: bit 1 mirrors columns, 2 rows, 4 transposes).
EXIF_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
METADATA_SUFFIXES = frozenset({".png", ".tif", ".tiff"})


def exif_tags(raw: RawImage) -> dict[str, object]:
    """The camera's EXIF that :func:`read` found (``RawImage.exif``), by tag name: ``Make``,
    ``Model``, ``ExposureTime``, ``DateTimeOriginal``, ... (empty without one, or without Pillow)."""
    return _metadata.describe(raw.exif)


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
        block = _metadata.output_exif(raw.exif, image.shape[1], image.shape[0], orientation)
    profile = _metadata.icc_profile(gamma) if icc and colorspace == "srgb" else None
    write_array(path, image, exif=block, icc=profile, compression="deflate")
