"""What every evaluation shares: the image folders and the throughput of a method."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputDtypeError
from .._io import IMAGE_SUFFIXES, read_array
from .timing import median_seconds


def load_images(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    """``(name, BGR uint8 image)`` for every colour image in a folder, sorted by name (the
    measuring protocol is 8-bit; other bit depths are refused rather than rescaled)."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES - {".npy"})
    images = [(p.name, read_array(p)) for p in paths]
    images = [(n, im) for n, im in images if im.ndim == 3]
    if not images:
        raise FileNotFoundError(f"no colour images in {folder}")
    for name, im in images:
        if im.dtype != np.uint8:
            raise InputDtypeError(f"{name}: evaluation images must be 8-bit, got {im.dtype}")
    return images


def throughput(fn: Callable[[], object], megapixels: float, repeats: int = 3, warmup: bool = True) -> float:
    """Megapixels per second: one warm-up call (unless ``warmup`` is off because the caller has just
    run ``fn``), then the median of ``repeats`` timed calls."""
    return megapixels / median_seconds(fn, repeats, warmup)


def rate(megapixels_per_second: float) -> float:
    """A throughput to three significant digits (a slow method on tiny images stays above zero)."""
    return float(f"{megapixels_per_second:.3g}")
