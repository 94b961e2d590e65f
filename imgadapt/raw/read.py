"""Reading camera RAW files (through LibRaw) and plain mosaics into a :class:`~imgadapt.raw.image.RawImage`."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import bayer
from . import colour, metadata
from ..errors import (CorruptRawError, InputDtypeError, InputShapeError, InputSizeError, InputValueError,
                      UnsupportedRawError)
from .._headers import format_megapixels
from .._io import read_array
from .image import MAX_PIXELS, MOSAIC_SUFFIXES, RAW_EXTRA, RawImage


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
    not finite, not positive, or wider apart than :data:`imgadapt.raw.colour.MAX_WB_RATIO`."""
    v = [float(x) for x in list(values)[:3]]
    if len(v) < 3 or (v[0] == 0 and v[2] == 0):
        return None, None
    try:
        r, g, b = colour.check_multipliers(v, what)
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
        if pattern not in bayer.PATTERNS:
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
                cam_to_srgb = colour.camera_to_srgb(xyz_cam)
            except (InputValueError, InputShapeError) as exc:
                unusable["camera_to_srgb"] = _colour_error(path, "camera colour matrix (XYZ -> camera)", str(exc))
        else:
            # DNG files: LibRaw builds camera -> sRGB from ColorMatrix (the same way) without
            # reporting the XYZ matrix. Exactly the identity means LibRaw has no calibration.
            xyz_to_camera, rgb_cam = None, np.asarray(raw.color_matrix, dtype=np.float64)[:, :3]
            if not np.array_equal(rgb_cam, np.eye(3)):
                try:
                    cam_to_srgb = colour.check_matrix(rgb_cam, "camera_to_srgb")
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
            flip=int(sizes.flip), source=str(path), unusable=unusable, exif=metadata.read_exif(path))
    finally:
        raw.close()


def _read_plain(path: Path, pattern: str | None, white_level: float | None, max_pixels: int) -> RawImage:
    if pattern is None:
        raise InputValueError(f"{path}: a plain mosaic ({path.suffix}) does not record its Bayer pattern; "
                                  "pass pattern= / --pattern (RGGB, BGGR, GRBG or GBRG)")
    pattern = bayer.check_pattern(pattern)
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
