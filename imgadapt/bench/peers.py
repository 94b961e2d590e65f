"""Demosaicking peers: the methods a user would pick instead of an imgadapt model.

Every peer is a function ``(mosaic_hw, pattern) -> HxWx3 BGR`` that keeps the input's dtype
(uint8 or uint16) and follows the imgadapt conventions: patterns are named by the sensor's
top-left 2x2 (``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``) and the output is aligned pixel for pixel
with the mosaic. They are what the models are measured against (the README states the protocols).

=================  ==================  ================================================
name               package             method
=================  ==================  ================================================
opencv-bilinear    opencv-python       ``cv2.cvtColor`` Bayer, bilinear
opencv-vng         opencv-python       ``cv2.cvtColor`` Bayer VNG (uint8 only)
opencv-ea          opencv-python       ``cv2.cvtColor`` Bayer edge-aware
malvar2004         colour-demosaicing  Malvar, He & Cutler 2004 gradient-corrected linear
menon2007          colour-demosaicing  Menon, Andriani & Calvagno 2007 DDFAPD (refined)
libraw-ahd         rawpy (LibRaw)      AHD; also libraw-dcb, -dht, -aahd, -ppg
demosaicnet        demosaicnet (torch) Gharbi et al. 2016 network, its released weights
=================  ==================  ================================================

colour-demosaicing, rawpy, tifffile and demosaicnet are optional (``pip install "imgadapt[peers]"``) and are
imported only when their peer runs; :func:`available_demosaic_peers` lists the peers whose
packages are installed.
"""
from __future__ import annotations

import importlib
import importlib.util
import io
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..bayer import opencv_code
from .._checks import check_choice
from ..errors import InputShapeError, InputValueError
from .peer_base import check_mosaic, import_peer, to_dtype

# LibRaw refuses very small raw frames (under 22 px in dcraw's identify() sanity check); mosaics
# smaller than this are mirror-padded on the bottom and right, which keeps the colour phase, and cropped back.
_LIBRAW_MIN_SIZE = 32

LIBRAW_ALGORITHMS = ("AHD", "DCB", "DHT", "AAHD", "PPG", "VNG", "LINEAR")


# --------------------------------------------------------------------------------------------
# OpenCV


def opencv_bilinear(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """OpenCV bilinear demosaicking (``cv2.COLOR_Bayer*2BGR``); uint8 or uint16."""
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern)
    return cv2.cvtColor(mosaic_hw, opencv_code(pattern))


def opencv_vng(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """OpenCV variable-number-of-gradients demosaicking (``cv2.COLOR_Bayer*2BGR_VNG``).

    OpenCV implements VNG for 8-bit data only. A uint16 mosaic raises :class:`InputDtypeError`
    rather than being reduced to 8 bits behind the caller's back (VNG is not linear, so an
    8-bit run is not the same method on 16-bit data); reduce it explicitly if that is wanted.
    """
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern, dtypes=(np.uint8,))
    return cv2.cvtColor(mosaic_hw, opencv_code(pattern, "VNG"))


def nlm(bgr: np.ndarray, h: float = 8.0) -> np.ndarray:
    """``cv2.fastNlMeansDenoisingColored`` of an 8-bit BGR image: strength ``h`` for luminance and
    colour, 7x7 patches, 21x21 search."""
    return cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)


def vng_then_nlm(mosaic_hw: np.ndarray, pattern: str = "RGGB", h: float = 8.0) -> np.ndarray:
    """OpenCV VNG demosaicking followed by non-local means (:func:`nlm`): the usual two-step answer
    to noisy RAW data."""
    return nlm(opencv_vng(mosaic_hw, pattern), h)


def opencv_ea(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """OpenCV edge-aware demosaicking (``cv2.COLOR_Bayer*2BGR_EA``); uint8 or uint16."""
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern)
    return cv2.cvtColor(mosaic_hw, opencv_code(pattern, "EA"))


# --------------------------------------------------------------------------------------------
# colour-demosaicing (float RGB in and out)


def _colour_demosaicing(function_name: str, mosaic_hw: np.ndarray, pattern: str, **kwargs) -> np.ndarray:
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern)
    module = import_peer("colour_demosaicing", "colour-demosaicing")
    # The methods are scale-free (linear filters and gradient comparisons), so they run on the
    # integer scale of the input and the result only needs rounding and clipping.
    rgb = getattr(module, function_name)(mosaic_hw.astype(np.float64), pattern, **kwargs)
    return to_dtype(rgb[..., ::-1], mosaic_hw.dtype)


def malvar2004(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Malvar, He & Cutler (2004) gradient-corrected bilinear demosaicking (colour-demosaicing)."""
    return _colour_demosaicing("demosaicing_CFA_Bayer_Malvar2004", mosaic_hw, pattern)


def menon2007(mosaic_hw: np.ndarray, pattern: str = "RGGB", refining_step: bool = True) -> np.ndarray:
    """Menon, Andriani & Calvagno (2007) DDFAPD demosaicking, with its refining step (colour-demosaicing)."""
    return _colour_demosaicing("demosaicing_CFA_Bayer_Menon2007", mosaic_hw, pattern,
                               refining_step=refining_step)


# --------------------------------------------------------------------------------------------
# LibRaw through rawpy, fed a minimal DNG


_CFA_CODES = {"R": 0, "G": 1, "B": 2}
# XYZ (D65) -> linear sRGB. As the DNG ColorMatrix1 (XYZ -> camera) it declares the camera space
# to be linear sRGB, so LibRaw's own camera -> sRGB matrix is the identity: AHD measures its
# homogeneity in a CIELab computed from the data as they are.
_XYZ_TO_SRGB = ((3.2404542, -1.5371385, -0.4985314),
                (-0.9692660, 1.8760108, 0.0415560),
                (0.0556434, -0.2040259, 1.0572252))
_IDENTITY = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def _srational(values, denominator: int = 10_000_000) -> list[int]:
    out = []
    for v in values:
        out += [int(round(v * denominator)), denominator]
    return out


def _rational(values, denominator: int = 1_000_000) -> list[int]:
    return _srational(values, denominator)


def mosaic_to_dng(mosaic_hw: np.ndarray, pattern: str = "RGGB", white_level: int | None = None,
                  color_matrix="srgb", *, black_level=0, as_shot_neutral=(1.0, 1.0, 1.0),
                  orientation: int = 1) -> bytes:
    """Encode a Bayer mosaic as a minimal uncompressed DNG (16-bit CFA) in memory.

    Args:
        mosaic_hw: uint8 or uint16 ``HxW`` mosaic; stored as 16-bit samples.
        pattern: sensor top-left 2x2 (``RGGB`` ...), written as the CFAPattern (0=R, 1=G, 2=B).
        white_level: WhiteLevel tag; by default the dtype's maximum (255 or 65535).
        color_matrix: ColorMatrix1 (XYZ -> camera): ``"srgb"`` (camera space = linear sRGB),
            ``"identity"`` (camera space = XYZ) or a 3x3 array.
        black_level: BlackLevel: one value, or four for the sites of the top-left 2x2 read row by
            row (written with BlackLevelRepeatDim 2x2).
        as_shot_neutral: AsShotNeutral, the camera's R, G, B response to the scene's white; the
            as-shot white-balance multipliers are its reciprocals.
        orientation: TIFF/EXIF Orientation, 1 (upright) to 8; 6 turns the image 90° clockwise.

    Requires tifffile (``pip install "imgadapt[peers]"``).
    """
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern)
    tifffile = import_peer("tifffile", "tifffile")
    if isinstance(color_matrix, str):
        color_matrix = check_choice(color_matrix, ("srgb", "identity"), "DNG colour matrix")
        matrix = np.array(_XYZ_TO_SRGB if color_matrix == "srgb" else _IDENTITY, dtype=np.float64)
    else:
        matrix = np.asarray(color_matrix, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
            raise InputShapeError(f"color_matrix: expected 'srgb', 'identity' or a finite 3x3 matrix, "
                                  f"got shape {matrix.shape}")
    if white_level is None:
        white_level = int(np.iinfo(mosaic_hw.dtype).max)
    black = [int(v) for v in np.atleast_1d(black_level)]
    if len(black) not in (1, 4) or min(black) < 0 or max(black) >= int(white_level):
        raise InputValueError(f"black_level: expected 1 or 4 values in [0, white_level), got {black_level!r}")
    neutral = [float(v) for v in as_shot_neutral]
    if len(neutral) != 3 or not all(0 < v <= 1e3 for v in neutral):
        raise InputValueError(f"as_shot_neutral: expected 3 positive numbers, got {as_shot_neutral!r}")
    if isinstance(orientation, bool) or orientation not in range(1, 9):
        raise InputValueError(f"orientation: expected an integer 1..8, got {orientation!r}")
    cfa = bytes(_CFA_CODES[c] for c in pattern)
    tags = [
        (274, "H", 1, int(orientation), True),                # Orientation
        (33421, "H", 2, (2, 2), True),                        # CFARepeatPatternDim
        (33422, "B", 4, cfa, True),                           # CFAPattern
        (50706, "B", 4, (1, 4, 0, 0), True),                  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),                  # DNGBackwardVersion
        (50708, "s", 0, "imgadapt mosaic", True),             # UniqueCameraModel
        (50710, "B", 3, (0, 1, 2), True),                     # CFAPlaneColor
        (50711, "H", 1, 1, True),                             # CFALayout: rectangular
        (50713, "H", 2, (2, 2) if len(black) == 4 else (1, 1), True),  # BlackLevelRepeatDim
        (50714, "I", len(black), tuple(black) if len(black) == 4 else black[0], True),  # BlackLevel
        (50717, "I", 1, int(white_level), True),              # WhiteLevel
        (50721, "2i", 9, _srational(matrix.ravel()), True),   # ColorMatrix1
        (50728, "2I", 3, _rational(neutral), True),           # AsShotNeutral
        (50778, "H", 1, 21, True),                            # CalibrationIlluminant1: D65
    ]
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, mosaic_hw.astype(np.uint16), photometric=32803, planarconfig=None,
                     compression=None, subfiletype=0, metadata=None, extratags=tags,
                     software="imgadapt")
    return buffer.getvalue()


def libraw(mosaic_hw: np.ndarray, pattern: str = "RGGB", algorithm: str = "AHD",
           color_matrix: str = "srgb") -> np.ndarray:
    """Demosaic with LibRaw (through rawpy) and return linear BGR on the input's scale.

    The mosaic is wrapped in an in-memory DNG (:func:`mosaic_to_dng`) and developed with no white
    balance (multipliers 1), no colour conversion (camera RGB), gamma 1, no auto-brightness,
    black 0 and white = the dtype's maximum, and no flip; LibRaw's 16-bit result is then rounded
    to the input's dtype. A flat mosaic comes back at its own level, aligned with the input.

    Args:
        mosaic_hw: uint8 or uint16 ``HxW`` mosaic.
        pattern: sensor top-left 2x2.
        algorithm: one of ``AHD`` (LibRaw's default), ``DCB``, ``DHT``, ``AAHD``, ``PPG``, ``VNG``,
            ``LINEAR``.
        color_matrix: the DNG ColorMatrix1 (see :func:`mosaic_to_dng`). No colour conversion is
            applied either way, but AHD measures homogeneity in CIELab through this matrix:
            ``"srgb"`` (default) lets it read the data as linear sRGB, ``"identity"`` as XYZ
            (on the validation images about 0.05 dB lower for AHD; other algorithms unchanged).

    LibRaw's AAHD leaves three corner pixels off (at 3/4 of the level on a flat mosaic); the
    border crop of the measurements removes them.

    Requires rawpy and tifffile (``pip install "imgadapt[peers]"``).
    """
    mosaic_hw, pattern = check_mosaic(mosaic_hw, pattern)
    algorithm = check_choice(algorithm.upper() if isinstance(algorithm, str) else algorithm,
                             LIBRAW_ALGORITHMS, "LibRaw demosaicking algorithm")
    rawpy = import_peer("rawpy", "rawpy")
    h, w = mosaic_hw.shape
    padded = mosaic_hw
    if h < _LIBRAW_MIN_SIZE or w < _LIBRAW_MIN_SIZE:
        # Bottom/right mirror padding that skips the edge row keeps the colour phase.
        padded = cv2.copyMakeBorder(mosaic_hw, 0, max(0, _LIBRAW_MIN_SIZE - h), 0,
                                    max(0, _LIBRAW_MIN_SIZE - w), cv2.BORDER_REFLECT_101)
    white = int(np.iinfo(mosaic_hw.dtype).max)
    dng = mosaic_to_dng(padded, pattern, white_level=white, color_matrix=color_matrix)
    with rawpy.imread(io.BytesIO(dng)) as raw:
        rgb16 = raw.postprocess(
            demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
            output_color=rawpy.ColorSpace.raw, output_bps=16, gamma=(1, 1), no_auto_bright=True,
            no_auto_scale=False, use_camera_wb=False, use_auto_wb=False, user_wb=[1.0, 1.0, 1.0, 1.0],
            user_black=0, user_sat=white, adjust_maximum_thr=0.0, bright=1.0, user_flip=0,
            highlight_mode=rawpy.HighlightMode.Clip, four_color_rgb=False, half_size=False)
    bgr16 = rgb16[:h, :w, ::-1]
    if mosaic_hw.dtype == np.uint16:
        return np.ascontiguousarray(bgr16)
    # LibRaw's 16-bit output spans 0..65535 for 0..white: rescale with rounding (its own 8-bit
    # output truncates instead).
    return to_dtype(bgr16.astype(np.float64) * (white / 65535.0), mosaic_hw.dtype)


def _libraw_peer(algorithm: str) -> Callable[[np.ndarray, str], np.ndarray]:
    def peer(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
        return libraw(mosaic_hw, pattern, algorithm=algorithm)

    peer.__name__ = f"libraw_{algorithm.lower()}"
    peer.__doc__ = f"LibRaw {algorithm} demosaicking through rawpy (see :func:`libraw`)."
    return peer


def _demosaicnet(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    from .peer_demosaicnet import demosaicnet  # torch is imported only when this peer runs

    return demosaicnet(mosaic_hw, pattern)


# --------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class DemosaicPeer:
    """One demosaicking peer: call it like the function, ``peer(mosaic_hw, pattern)``.

    Attributes:
        name: registry key, e.g. ``"opencv-vng"``.
        function: ``(mosaic_hw, pattern) -> HxWx3 BGR`` of the input's dtype.
        source: the pip package providing the method.
        modules: modules that must be importable for the peer to run.
        dtypes: input dtypes the peer accepts.
        description: one line on the method.
    """

    name: str
    function: Callable[[np.ndarray, str], np.ndarray]
    source: str
    modules: tuple[str, ...]
    dtypes: tuple[str, ...]
    description: str

    def __call__(self, mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
        return self.function(mosaic_hw, pattern)

    def available(self) -> bool:
        """Whether the packages the peer needs are installed (checked without importing them)."""
        return all(importlib.util.find_spec(m) is not None for m in self.modules)


_BOTH = ("uint8", "uint16")
_LIBRAW_MODULES = ("rawpy", "tifffile")

DEMOSAIC_PEERS: dict[str, DemosaicPeer] = {
    p.name: p for p in (
        DemosaicPeer("opencv-bilinear", opencv_bilinear, "opencv-python", ("cv2",), _BOTH,
                     "OpenCV bilinear (cv2.COLOR_Bayer*2BGR)"),
        DemosaicPeer("opencv-vng", opencv_vng, "opencv-python", ("cv2",), ("uint8",),
                     "OpenCV variable number of gradients (8-bit only)"),
        DemosaicPeer("opencv-ea", opencv_ea, "opencv-python", ("cv2",), _BOTH,
                     "OpenCV edge-aware"),
        DemosaicPeer("malvar2004", malvar2004, "colour-demosaicing", ("colour_demosaicing",), _BOTH,
                     "Malvar, He & Cutler 2004, gradient-corrected linear"),
        DemosaicPeer("menon2007", menon2007, "colour-demosaicing", ("colour_demosaicing",), _BOTH,
                     "Menon, Andriani & Calvagno 2007 (DDFAPD), with refining step"),
        DemosaicPeer("libraw-ahd", _libraw_peer("AHD"), "rawpy", _LIBRAW_MODULES, _BOTH,
                     "LibRaw adaptive homogeneity-directed (AHD)"),
        DemosaicPeer("libraw-dcb", _libraw_peer("DCB"), "rawpy", _LIBRAW_MODULES, _BOTH,
                     "LibRaw DCB"),
        DemosaicPeer("libraw-dht", _libraw_peer("DHT"), "rawpy", _LIBRAW_MODULES, _BOTH,
                     "LibRaw DHT"),
        DemosaicPeer("libraw-aahd", _libraw_peer("AAHD"), "rawpy", _LIBRAW_MODULES, _BOTH,
                     "LibRaw AAHD (modified AHD)"),
        DemosaicPeer("libraw-ppg", _libraw_peer("PPG"), "rawpy", _LIBRAW_MODULES, _BOTH,
                     "LibRaw patterned pixel grouping (PPG)"),
        DemosaicPeer("demosaicnet", _demosaicnet, "demosaicnet", ("torch", "demosaicnet"), _BOTH,
                     "Gharbi et al. 2016 deep demosaicking network, released Bayer weights (torch, CPU)"),
    )
}


def available_demosaic_peers(dtype=None) -> dict[str, DemosaicPeer]:
    """The peers of :data:`DEMOSAIC_PEERS` whose packages are installed, in registry order.

    Args:
        dtype: if given (``np.uint8``, ``"uint16"`` ...), only the peers that accept it.
    """
    name = None if dtype is None else np.dtype(dtype).name
    return {k: p for k, p in DEMOSAIC_PEERS.items()
            if p.available() and (name is None or name in p.dtypes)}
