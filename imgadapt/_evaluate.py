"""Quality and speed of imgadapt models next to their peers, measured in one run."""
from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import _bayer
from ._errors import InputDtypeError
from ._io import IMAGE_SUFFIXES, read_array
from ._metrics import mean_psnr, rgb_psnr

log = logging.getLogger("imgadapt")


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


def throughput(fn: Callable[[], object], megapixels: float, repeats: int = 3) -> float:
    """Megapixels per second: one warm-up call, then the median of ``repeats`` timed calls."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return megapixels / statistics.median(times)


def noisy_mosaic(mosaic: np.ndarray, a: float, b: float, seed: int = 0) -> np.ndarray:
    """Heteroscedastic sensor noise of variance ``a * x + b`` (x in [0, 1]) on an 8-bit mosaic,
    rounded and clipped back to 8 bits; deterministic for a given seed."""
    x = mosaic.astype(np.float64) / 255.0
    noise = np.random.default_rng(seed).standard_normal(x.shape) * np.sqrt(a * x + b)
    return np.clip(np.rint((x + noise) * 255.0), 0, 255).astype(np.uint8)


def evaluate_demosaic(images: list[tuple[str, np.ndarray]], methods: dict[str, tuple[Callable, str]],
                      pattern: str = "RGGB", crop: int = 8, repeats: int = 3,
                      noise: tuple[float, float] | None = None) -> list[dict]:
    """RGB PSNR (mean over images of per-image PSNR, ``crop`` px border) and throughput.

    Args:
        images: ``(name, BGR image)`` pairs; each is mosaicked with ``pattern``.
        methods: ``name -> (function(mosaic, pattern) -> BGR, source)``.
        noise: ``(a, b)`` to add sensor noise of variance ``a * x + b`` to the mosaics (seeded per
            image); the clean image stays the reference.
    """
    mosaics = [(name, img, _bayer.mosaic(img, pattern)) for name, img in images]
    if noise is not None:
        mosaics = [(name, img, noisy_mosaic(mos, *noise, seed=i)) for i, (name, img, mos) in enumerate(mosaics)]
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


def demosaic_methods(models: list[str], peers: bool = True, denoise_peers: bool = False
                     ) -> dict[str, tuple[Callable, str]]:
    """The imgadapt models named (loaded once) and, with ``peers``, every installed peer; with
    ``denoise_peers``, also OpenCV VNG followed by non-local means at several strengths."""
    from ._model import load
    from ._peers import available_demosaic_peers

    methods: dict[str, tuple[Callable, str]] = {}
    for name in models:
        model = load(name, task="demosaic")
        methods[model.name] = (lambda mos, pat, m=model: m(mos, pattern=pat), "imgadapt")
    if peers:
        for name, peer in available_demosaic_peers(np.uint8).items():
            methods[name] = (peer, peer.source)
    if denoise_peers:
        from ._peers import vng_then_nlm

        for h in NLM_STRENGTHS:
            methods[f"opencv-vng+nlm(h={h})"] = (lambda mos, pat, h=h: vng_then_nlm(mos, pat, h), "opencv-python")
    return methods


NLM_STRENGTHS = (3, 5, 8, 12, 16)
