"""imgadapt: content-adaptive demosaicking, super-resolution and boundary detection on onnxruntime.

Arrays follow OpenCV: ``HxW`` gray or Bayer mosaics (``HxWx1`` is read as ``HxW``), ``HxWx3`` BGR
images; uint8, uint16 or float32/float64 in [0, 1] (other float values raise :class:`InputValueError`);
outputs keep the input's dtype. See :func:`load` for sessions, providers, threads and the tile
policy, :meth:`Model.batch` for many frames in batched calls; :mod:`imgadapt.raw` for camera RAW files.
"""
from __future__ import annotations

import numpy as np

from . import raw
from .bayer import PATTERNS
from .errors import (CorruptRawError, ImgadaptError, InputDtypeError, InputShapeError, InputSizeError,
                     InputValueError, ModelIntegrityError, ProviderError, UnknownNameError, UnsupportedRawError)
from ._version import __version__  # noqa: F401
from .ensemble import self_ensemble
from ._model import Model, check_model_arg, default_upscaler, load, registry
from ._registry import public_card


__all__ = [
    "list_models", "model_info", "load", "demosaic", "upscale", "edges", "Model", "PATTERNS",
    "ImgadaptError", "InputDtypeError", "InputShapeError", "InputSizeError", "InputValueError",
    "ModelIntegrityError", "ProviderError", "UnknownNameError", "UnsupportedRawError", "CorruptRawError", "raw",
]


def list_models(task: str | None = None) -> list[str]:
    """Names of the installed models (``task/name``), optionally of one task (demosaic, sr, edges)."""
    return registry().list(task)


def model_info(name: str) -> dict:
    """The model card of ``name``: task, kind, layers, parameters, training, validation metrics."""
    return public_card(registry().resolve(name))


def demosaic(mosaic: np.ndarray, pattern: str = "RGGB", model=None, white_level: float | None = None) -> np.ndarray:
    """Demosaic an ``HxW`` Bayer mosaic into an ``HxWx3`` BGR image of the same dtype.

    Args:
        mosaic: uint8, uint16 or float (0-1) ``HxW`` (or ``HxWx1``) mosaic, at least 2x2, any size and strides.
        pattern: the sensor's top-left 2x2: ``"RGGB"``, ``"BGGR"``, ``"GRBG"`` or ``"GBRG"``
            (OpenCV's ``COLOR_BayerBG2BGR`` is the RGGB sensor).
        model: a name from ``list_models("demosaic")``, a loaded :class:`Model`, or ``None`` for the default.
        white_level: full scale of integer data below the dtype's maximum (e.g. 4095 for 12-bit in uint16):
            a number from 1 to the dtype's maximum, at least the largest value of ``mosaic``; not for float data.

    Example:
        >>> import numpy as np, imgadapt
        >>> bgr = imgadapt.demosaic(np.zeros((8, 8), np.uint8), "RGGB")  # doctest: +SKIP
    """
    return check_model_arg(model, "demosaic")(mosaic, pattern=pattern, white_level=white_level)


def upscale(image: np.ndarray, scale: int = 2, model=None, ensemble: bool = False) -> np.ndarray:
    """Upscale a gray (``HxW`` or ``HxWx1``) or BGR ``HxWx3`` image ``scale`` times; same dtype and
    channels (and number of dimensions) as the input.

    With ``ensemble=True`` the model runs on the 8 flips and rotations of the image and the results,
    turned back, are averaged (the geometric self-ensemble): a little sharper and cleaner, 8 times
    the work."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)):
        raise InputDtypeError(f"scale: expected an integer, got {type(scale).__name__}")
    if not isinstance(ensemble, (bool, np.bool_)):
        raise InputDtypeError(f"ensemble: expected True or False, got {type(ensemble).__name__}")
    m = check_model_arg(default_upscaler(scale) if model is None else model, "sr")
    if m.scale != scale:
        raise UnknownNameError(f"model {m.name!r} upscales by {m.scale}, but scale={scale} was asked")
    return self_ensemble(m, image) if ensemble else m(image)


def edges(image: np.ndarray, model=None, thin: bool = False, threshold: float = 0.5) -> np.ndarray:
    """Boundary probability of a gray or BGR image: float32 ``HxW`` in [0, 1].

    Args:
        image: ``HxW`` (or ``HxWx1``) gray or ``HxWx3`` BGR, uint8, uint16 or float (0-1).
        model: a name from ``list_models("edges")``, a loaded :class:`Model`, or ``None`` for the default.
        thin: return thin edges instead, as ``cv2.Canny`` does: uint8 ``HxW``, 255 on edges, 0 elsewhere.
            They are the pixels of probability at least ``threshold`` that are local maxima across the
            edge (non-maximum suppression along the dominant gradient orientation of the probability).
        threshold: the probability an edge pixel needs with ``thin``, in (0, 1].
    """
    return check_model_arg(model, "edges")(image, thin=thin, threshold=threshold)
