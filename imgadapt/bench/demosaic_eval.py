"""Demosaicking quality and speed: RGB PSNR of mosaicked clean images (optionally noisy), models and peers."""
from __future__ import annotations

import logging

import numpy as np

from .. import bayer
from .method import Method
from .metrics import mean_psnr, rgb_psnr
from .._model import DEFAULT_TILE
from .evaluate import rate, throughput

log = logging.getLogger("imgadapt")


def noisy_mosaic(mosaic: np.ndarray, a: float, b: float, seed: int = 0) -> np.ndarray:
    """Heteroscedastic sensor noise of variance ``a * x + b`` (x in [0, 1]) on an 8-bit mosaic,
    rounded and clipped back to 8 bits; deterministic for a given seed."""
    x = mosaic.astype(np.float64) / 255.0
    noise = np.random.default_rng(seed).standard_normal(x.shape) * np.sqrt(a * x + b)
    return np.clip(np.rint((x + noise) * 255.0), 0, 255).astype(np.uint8)


def demosaic_inputs(images: list[tuple[str, np.ndarray]], pattern: str = "RGGB",
                    noise: tuple[float, float] | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, clean image, mosaic)``: each image mosaicked with ``pattern`` and, with ``noise``
    ``(a, b)``, given sensor noise of variance ``a * x + b`` (seeded by the image's position)."""
    mosaics = [(name, img, bayer.mosaic(img, pattern)) for name, img in images]
    if noise is not None:
        mosaics = [(name, img, noisy_mosaic(mos, *noise, seed=i)) for i, (name, img, mos) in enumerate(mosaics)]
    return mosaics


def evaluate_demosaic(images: list[tuple[str, np.ndarray]], methods: dict[str, Method],
                      pattern: str = "RGGB", crop: int = 8, repeats: int = 3,
                      noise: tuple[float, float] | None = None) -> list[dict]:
    """RGB PSNR (mean over images of per-image PSNR, ``crop`` px border) and throughput.

    Args:
        images: ``(name, BGR image)`` pairs; each is mosaicked with ``pattern``.
        methods: ``name ->`` :class:`~imgadapt.bench.method.Method` (``run(mosaic, pattern) -> BGR``).
        noise: ``(a, b)`` to add sensor noise of variance ``a * x + b`` to the mosaics (seeded per
            image); the clean image stays the reference.
    """
    mosaics = demosaic_inputs(images, pattern, noise)
    megapixels = sum(m.size for _, _, m in mosaics) / 1e6
    rows = []
    for method, m in methods.items():
        fn, source = m.run, m.source
        per_image = {name: round(rgb_psnr(fn(mos, pattern), img, crop=crop), 3) for name, img, mos in mosaics}
        speed = throughput(lambda fn=fn: [fn(mos, pattern) for _, _, mos in mosaics], megapixels, repeats)
        row = {"method": method, "source": source, "psnr_db": round(mean_psnr(per_image.values()), 3),
               "per_image": per_image, "mp_s": rate(speed)}
        log.info("%-24s %-20s %7.3f dB %9.2f MP/s", method, source, row["psnr_db"], row["mp_s"])
        rows.append(row)
    return rows


def demosaic_methods(models: list[str], peers: bool = True, denoise_peers: bool = False,
                     tile: int | None = DEFAULT_TILE) -> dict[str, Method]:
    """The imgadapt models named (loaded once, with ``tile``) and, with ``peers``, every installed peer;
    with ``denoise_peers``, also OpenCV VNG followed by non-local means at several strengths, and
    demosaicnet followed by it at three (when demosaicnet is installed)."""
    from .._model import load
    from .peers import available_demosaic_peers

    methods: dict[str, Method] = {}
    for name in models:
        model = load(name, task="demosaic", tile=tile)
        methods[model.name] = Method(lambda mos, pat, m=model: m(mos, pattern=pat), "imgadapt")
    if peers:
        methods.update(demosaic_peers())
    if denoise_peers:
        from .peers import nlm, vng_then_nlm

        for h in NLM_STRENGTHS:
            methods[f"opencv-vng+nlm(h={h})"] = Method(lambda mos, pat, h=h: vng_then_nlm(mos, pat, h),
                                                       "opencv-python")
        network = available_demosaic_peers(np.uint8).get("demosaicnet")
        if network is not None:  # the strongest demosaicker, then the same denoiser (slow: fewer strengths)
            for h in NETWORK_NLM_STRENGTHS:
                methods[f"demosaicnet+nlm(h={h})"] = Method(lambda mos, pat, h=h: nlm(network(mos, pat), h),
                                                            network.source)
    return methods


NLM_STRENGTHS = (3, 5, 8, 12, 16)
NETWORK_NLM_STRENGTHS = (3, 5, 8)


def demosaic_peers() -> dict[str, Method]:
    """The installed demosaicking peers (:data:`imgadapt.bench.peers.DEMOSAIC_PEERS`) that take 8-bit data."""
    from .peers import available_demosaic_peers

    return {name: Method(peer, peer.source) for name, peer in available_demosaic_peers(np.uint8).items()}
