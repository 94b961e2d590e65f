"""Quality and speed of imgadapt models next to their peers, measured in one run."""
from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import _bayer
from ._io import IMAGE_SUFFIXES, read_array
from ._metrics import mean_psnr, rgb_psnr

log = logging.getLogger("imgadapt")


def load_images(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    """``(name, BGR uint8/uint16 image)`` for every colour image in a folder, sorted by name."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES - {".npy"})
    images = [(p.name, read_array(p)) for p in paths]
    images = [(n, im) for n, im in images if im.ndim == 3]
    if not images:
        raise FileNotFoundError(f"no colour images in {folder}")
    return images


def throughput(fn: Callable[[], object], megapixels: float, repeats: int = 3) -> float:
    """Megapixels per second: one warm-up call, then the median of ``repeats`` timed calls."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return megapixels / statistics.median(times)


def evaluate_demosaic(images: list[tuple[str, np.ndarray]], methods: dict[str, tuple[Callable, str]],
                      pattern: str = "RGGB", crop: int = 8, repeats: int = 3) -> list[dict]:
    """RGB PSNR (mean over images of per-image PSNR, ``crop`` px border) and throughput.

    Args:
        images: ``(name, BGR image)`` pairs; each is mosaicked with ``pattern``.
        methods: ``name -> (function(mosaic, pattern) -> BGR, source)``.
    """
    mosaics = [(name, img, _bayer.mosaic(img, pattern)) for name, img in images]
    megapixels = sum(m.size for _, _, m in mosaics) / 1e6
    rows = []
    for method, (fn, source) in methods.items():
        per_image = {name: round(rgb_psnr(fn(mos, pattern), img, crop=crop), 3) for name, img, mos in mosaics}
        speed = throughput(lambda: [fn(mos, pattern) for _, _, mos in mosaics], megapixels, repeats)
        row = {"method": method, "source": source, "psnr_db": round(mean_psnr(per_image.values()), 3),
               "per_image": per_image, "mp_s": round(speed, 2)}
        log.info("%-24s %-20s %7.3f dB %9.2f MP/s", method, source, row["psnr_db"], row["mp_s"])
        rows.append(row)
    return rows


def demosaic_methods(models: list[str], peers: bool = True) -> dict[str, tuple[Callable, str]]:
    """The imgadapt models named (loaded once) and, with ``peers``, every installed peer."""
    from ._model import load
    from ._peers import available_demosaic_peers

    methods: dict[str, tuple[Callable, str]] = {}
    for name in models:
        model = load(name, task="demosaic")
        methods[model.name] = (lambda mos, pat, m=model: m(mos, pattern=pat), "imgadapt")
    if peers:
        for name, peer in available_demosaic_peers(np.uint8).items():
            methods[name] = (peer, peer.source)
    return methods
