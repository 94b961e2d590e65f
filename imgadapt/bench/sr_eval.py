"""Super-resolution quality and speed: Y-PSNR against the high-resolution image, the low-resolution
input made by antialiased bicubic; models (and their self-ensemble) and OpenCV."""
from __future__ import annotations

import logging
from typing import Callable

import cv2
import numpy as np

from ..errors import InputValueError
from .method import Method
from .metrics import mean_psnr, y_psnr
from .._model import DEFAULT_TILE
from .resize import downscale, modcrop
from .evaluate import rate, throughput

log = logging.getLogger("imgadapt")


SR_SCALES = range(2, 9)


def check_sr_scale(scale) -> int:
    """Return ``scale`` if it is an integer factor from 2 to 8, else raise :class:`InputValueError`."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale not in SR_SCALES:
        raise InputValueError(f"scale: expected an integer from {SR_SCALES.start} to {SR_SCALES.stop - 1}, "
                              f"got {scale!r}")
    return int(scale)


def sr_pairs(images: list[tuple[str, np.ndarray]], scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, high-res, low-res)``: each image cropped to multiples of ``scale`` (:func:`modcrop`)
    and its antialiased-bicubic downscale (:func:`downscale`)."""
    return [(name, hr, downscale(hr, scale)) for name, hr in ((n, modcrop(im, scale)) for n, im in images)]


def evaluate_sr(images: list[tuple[str, np.ndarray]], scale: int, methods: dict[str, Method],
                crop: int | None = None, repeats: int = 3) -> list[dict]:
    """Y-PSNR (mean over images of per-image PSNR, ``scale`` px border) and output throughput.

    Each high-resolution image is cropped to multiples of ``scale`` (:func:`modcrop`); its
    low-resolution input is :func:`downscale` (antialiased bicubic, MATLAB ``imresize``), rounded to
    the image's dtype. Quality is :func:`y_psnr` (BT.601 luma, MATLAB ``rgb2ycbcr``) of the upscaled
    image against the cropped original.

    Args:
        images: ``(name, BGR image)`` pairs (the ground truth).
        scale: upscaling factor, 2 to 8.
        methods: ``name ->`` :class:`~imgadapt.bench.method.Method` (``run(low-res BGR) -> BGR scale x larger``).
        crop: border excluded from PSNR (default ``scale``).
        repeats: timed runs per method (median, after one warm-up).

    Returns:
        One row per method: ``method``, ``source``, ``scale``, ``psnr_db`` (mean Y-PSNR),
        ``per_image`` (name -> Y-PSNR) and ``mp_s`` (megapixels of output per second).
    """
    scale = check_sr_scale(scale)
    crop = scale if crop is None else crop
    pairs = sr_pairs(images, scale)
    megapixels = sum(hr.shape[0] * hr.shape[1] for _, hr, _ in pairs) / 1e6
    rows = []
    for method, m in methods.items():
        fn, source = m.run, m.source
        per_image = {}
        for name, hr, lr in pairs:
            out = fn(lr)
            if out.shape != hr.shape:
                raise InputValueError(f"{method}: expected a {scale}x upscaled image of shape {hr.shape} "
                                      f"from {lr.shape}, got {out.shape}")
            per_image[name] = round(y_psnr(out, hr, crop=crop), 3)
        speed = throughput(lambda fn=fn: [fn(lr) for _, _, lr in pairs], megapixels, repeats)
        row = {"method": method, "source": source, "scale": scale, "psnr_db": round(mean_psnr(per_image.values()), 3),
               "per_image": per_image, "mp_s": rate(speed)}
        log.info("%-24s %-20s x%d %7.3f dB %9.2f MP/s", method, source, scale, row["psnr_db"], row["mp_s"])
        rows.append(row)
    return rows


def _cv2_upscale(interpolation: int) -> Callable[[np.ndarray, int], np.ndarray]:
    def upscale(image: np.ndarray, scale: int) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.resize(image, (w * scale, h * scale), interpolation=interpolation)
    return upscale


SR_PEERS = {"opencv-bicubic": _cv2_upscale(cv2.INTER_CUBIC), "opencv-lanczos": _cv2_upscale(cv2.INTER_LANCZOS4)}


def sr_methods(scale: int, models: list[str] | None = None, peers: bool = True,
               tile: int | None = DEFAULT_TILE, ensemble: bool = False) -> dict[str, Method]:
    """The imgadapt super-resolution models for ``scale`` (loaded once) and, with ``peers``, OpenCV.

    Args:
        scale: upscaling factor, 2 to 8.
        models: model names; ``None`` takes every installed ``sr`` model whose card has this scale.
        peers: add ``cv2.resize`` bicubic and Lanczos.
        tile: the models' tile size (0: untiled).
        ensemble: also each model with ``upscale(..., ensemble=True)`` (the 8 flips and rotations
            averaged), as ``NAME+ensemble``.

    Raises:
        InputValueError: a named model upscales by another factor.
    """
    from .._model import load, registry

    scale = check_sr_scale(scale)
    if models is None:
        reg = registry()
        models = [n for n in reg.list("sr") if int(reg.resolve(n, "sr").get("scale", 0)) == scale]
    methods: dict[str, Method] = {}
    for name in models:
        model = load(name, task="sr", tile=tile)
        if model.scale != scale:
            raise InputValueError(f"model {model.name!r} upscales x{model.scale}, expected x{scale}")
        methods[model.name] = Method(model, "imgadapt")
        if ensemble:
            from ..ensemble import self_ensemble

            methods[model.name + "+ensemble"] = Method(lambda image, m=model: self_ensemble(m, image), "imgadapt")
    if peers:
        methods.update(sr_peers(scale))
    return methods


def sr_peers(scale: int) -> dict[str, Method]:
    """OpenCV's bicubic and Lanczos upscaling by ``scale``."""
    return {name: Method(lambda lr, up=upscale: up(lr, scale), "opencv-python") for name, upscale in SR_PEERS.items()}
