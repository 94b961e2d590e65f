"""What every peer shares: importing its optional package, checking a mosaic, rounding to a dtype."""
from __future__ import annotations

import importlib
import warnings

import numpy as np

from ..bayer import check_pattern
from .._checks import check_image
from ..errors import InputDtypeError

PEERS_EXTRA = 'pip install "imgadapt[peers]"'


def import_peer(module: str, package: str):
    """Import an optional dependency or raise an ImportError naming the pip extra."""
    try:
        with warnings.catch_warnings():
            # colour-demosaicing warns at import time about scipy namespaces it uses and (through
            # colour) about matplotlib, which only its plotting API needs: noise for the caller.
            warnings.filterwarnings("ignore", message=".*[Mm]atplotlib.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"this demosaicking peer needs the {package!r} package: {PEERS_EXTRA}") from exc


def check_mosaic(mosaic_hw: np.ndarray, pattern: str, dtypes=(np.uint8, np.uint16)) -> tuple[np.ndarray, str]:
    mosaic_hw = check_image(mosaic_hw, name="mosaic", channels=(1,), min_size=2)
    if mosaic_hw.dtype.type not in dtypes:
        names = " or ".join(np.dtype(d).name for d in dtypes)
        raise InputDtypeError(f"mosaic: this peer takes {names} data, got {mosaic_hw.dtype}")
    return np.ascontiguousarray(mosaic_hw), check_pattern(pattern)


def to_dtype(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float data on the integer scale of ``dtype``."""
    full = np.iinfo(dtype).max
    return np.clip(np.rint(image), 0, full).astype(dtype)
