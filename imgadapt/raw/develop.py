"""Developing a :class:`~imgadapt.raw.image.RawImage` into a finished BGR image (the steps are listed in
:mod:`imgadapt.raw`)."""
from __future__ import annotations

import os

import cv2
import numpy as np

from .. import bayer
from . import colour
from .highlights import CLIPPED_FRACTION, blend, clipped_blocks, reconstruct
from .._checks import check_choice, check_image, white_scale
from ..errors import CorruptRawError, InputDtypeError, InputShapeError, InputValueError
from .image import COLORSPACES, GAMMAS, HIGHLIGHTS, MAX_EV, RawImage, WB_MODES
from .read import read


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
    bayer.check_pattern(raw.pattern)
    blacks, white = raw.black_levels, raw.white_level
    numbers = [*blacks, white] if isinstance(blacks, (tuple, list)) and len(blacks) == 4 else None
    if numbers is None or any(isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in numbers):
        raise InputValueError(f"{name}: expected 4 black levels and a white level as numbers, "
                              f"got black_levels={blacks!r}, white_level={white!r}")
    if not all(np.isfinite(v) for v in numbers) or not white > max(blacks):
        raise InputValueError(f"{name}: expected finite levels with the white level above every black level, "
                              f"got black_levels={tuple(blacks)}, white_level={white!r}")
    if raw.mosaic.dtype.kind == "u":
        white_scale(raw.mosaic.dtype, white, f"{name}: white_level")


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
            1000 of each other (:func:`imgadapt.raw.colour.check_multipliers`), or ``camera`` /
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
        return _ratios(colour.check_multipliers(values, f"{raw.source or 'image'}: {name}"))
    try:
        np.asarray(wb, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputDtypeError(f"wb: expected one of {', '.join(WB_MODES)} or 3 numbers, got {wb!r}") from None
    return _ratios(colour.check_multipliers(wb, "wb"))


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
    """``HxW`` bool: the samples at :data:`imgadapt.raw.highlights.CLIPPED_FRACTION` of ``level``
    (a fraction of the range from black to white, :func:`saturation`) or above."""
    out = np.empty(raw.mosaic.shape, bool)
    for k, black in enumerate(raw.black_levels):
        dy, dx = divmod(k, 2)
        limit = black + CLIPPED_FRACTION * level * (raw.white_level - black)
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
            that of LibRaw's BT.709-like default curve (:func:`imgadapt.raw.colour.auto_gain`). A
            number: that many EV on the sensor's scale (``0``: the white level of the least
            amplified channel is white, as LibRaw's ``no_auto_bright``; ``-1`` halves, ``1``
            doubles).
        highlights: ``"clip"`` (default; dcraw ``-H 0``): blown highlights neutral white;
            ``"blend"`` (``-H 2``) or ``"reconstruct"`` (``-H 3+``): see :mod:`imgadapt.raw.highlights`;
            what they recover above white shows with an exposure below 0 EV.

    Returns:
        ``HxWx3`` BGR (``WxHx3`` when the orientation turns it by 90°).

    With ``wb="none", colorspace="raw", gamma="linear", exposure=0`` the result is the
    demosaicked, black- and white-scaled sensor data, linear in light.

    Integer output with ``highlights="clip"`` is developed in 16-bit integers, as LibRaw develops:
    the mosaic, the model's output, then the matrix and the exposure in one ``cv2.transform`` and,
    for sRGB, one table lookup (16-bit output within a few levels of 65535 of the exact curve,
    8-bit within one; see :func:`imgadapt.raw.colour.finish`). Float output and the other highlight
    modes are developed in float32.

    Raises:
        InputValueError: bad multipliers (see :func:`wb_multipliers`), ``camera`` / ``daylight`` /
            ``srgb`` asked of an image that records no white balance or colour matrix, or an
            exposure that is not finite or beyond :data:`MAX_EV`.
        CorruptRawError: the file records them, but they cannot be used (``RawImage.unusable``:
            an all-zero, singular, ill-conditioned or non-finite colour matrix; zero, non-finite or
            absurd multipliers); ``colorspace="raw"`` and other ``wb`` choices do without them.
    """
    from .._model import check_model_arg

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
        matrix = colour.check_matrix(raw.camera_to_srgb, f"{raw.source or 'image'}: camera_to_srgb")
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
            blend(bgr, level)
        else:
            reconstruct(bgr, clipped_blocks(clipped_sites(raw, level), raw.pattern))
        mark("highlights")
    gain = colour.auto_gain(bgr, matrix, gamma) if ev is None else 2.0 ** ev
    mark("exposure")
    out = colour.finish(bgr, matrix, gain, gamma, dtype)
    mark("colour+curve")
    if orient and raw.flip:
        out = colour.orient(out, raw.flip)
    out = np.ascontiguousarray(out)
    mark("orient")
    return out


# LibRaw's flip codes as EXIF orientations (dcraw: bit 1 mirrors columns, 2 rows, 4 transposes).
