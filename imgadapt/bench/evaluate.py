"""Quality and speed of imgadapt models next to their peers, measured in one run."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .. import bayer
from ..errors import InputDtypeError, InputValueError
from .._io import IMAGE_SUFFIXES, read_array
from .method import Method
from .metrics import mean_psnr, rgb_psnr, y_psnr
from .._model import DEFAULT_TILE
from .resize import downscale, modcrop
from .timing import median_seconds

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


def throughput(fn: Callable[[], object], megapixels: float, repeats: int = 3, warmup: bool = True) -> float:
    """Megapixels per second: one warm-up call (unless ``warmup`` is off because the caller has just
    run ``fn``), then the median of ``repeats`` timed calls."""
    return megapixels / median_seconds(fn, repeats, warmup)


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
               "per_image": per_image, "mp_s": _rate(speed)}
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


# --------------------------------------------------------------------------------------------
# Super-resolution: Y-PSNR against the high-resolution image, LR made by antialiased bicubic

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
               "per_image": per_image, "mp_s": _rate(speed)}
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


# --------------------------------------------------------------------------------------------
# Camera RAW conversion: synthetic DNG files, imgadapt next to LibRaw AHD


def _libraw_linear16(path: str) -> np.ndarray:
    """LibRaw AHD, linear 16-bit camera RGB, no white balance, no auto-brightness (BGR)."""
    import rawpy

    with rawpy.imread(path) as r:
        rgb = r.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD, output_bps=16, gamma=(1, 1),
                            no_auto_bright=True, use_camera_wb=False, user_wb=[1.0, 1.0, 1.0, 1.0],
                            output_color=rawpy.ColorSpace.raw, adjust_maximum_thr=0.0)
    return rgb[..., ::-1]


def evaluate_raw(images: list[tuple[str, np.ndarray]], workdir: str | Path, model: str | None = None,
                 linearize: bool = False, black: int = 512, white: int = 16383, repeats: int = 3,
                 workers: int | None = None) -> list[dict]:
    """Linear 16-bit development of DNG files made from clean 8-bit images: ground-truth PSNR and
    speed of imgadapt and of LibRaw's AHD on the same files, in one run.

    Each image (its 8-bit values taken as linear light, or decoded from sRGB with ``linearize``)
    is mosaicked RGGB, scaled to ``black..white`` (14 bits by default) and written as a DNG in
    ``workdir``. Rows:

    - ``imgadapt convert``: the batch command (``--wb none --colorspace raw --gamma linear
      --exposure 0 --bits 16``, ``workers`` processes, one thread each), files in and 16-bit PNG files out;
      PSNR of the written files; speed of the whole batch, worker start-up included, one run;
    - ``imgadapt raw.read+develop``: the same pipeline in this process, file to array;
    - ``libraw-ahd``: ``rawpy.imread`` + ``postprocess`` (AHD, gamma 1, no auto-brightness,
      white balance 1, raw colour, ``adjust_maximum_thr=0``), file to array.

    PSNR is RGB PSNR against ``image * 65535`` (peak 65535, 8-px border crop), mean over images;
    speed is input megapixels per second (in-process rows: one warm-up, median of ``repeats``).
    """
    from ..raw import convert
    from .. import raw
    from .._model import load
    from .peers import mosaic_to_dng

    workdir = Path(workdir)
    src, out = workdir / "dng", workdir / "out"
    src.mkdir(parents=True, exist_ok=True)
    truths = {}
    for name, image in images:
        x = image.astype(np.float64) / 255.0
        if linearize:
            x = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        mosaic = np.rint(black + bayer.mosaic(x, "RGGB") * (white - black)).astype(np.uint16)
        path = src / (Path(name).stem + ".dng")
        path.write_bytes(mosaic_to_dng(mosaic, "RGGB", white_level=white, black_level=black))
        truths[str(path)] = x * 65535.0
    paths = list(truths)
    megapixels = sum(t.shape[0] * t.shape[1] for t in truths.values()) / 1e6
    m = load(model, task="demosaic")
    linear = {"wb": "none", "colorspace": "raw", "gamma": "linear", "exposure": 0, "dtype": "uint16"}

    def score(outputs: dict) -> tuple[float, dict]:
        per_image = {Path(p).stem: round(rgb_psnr(outputs[p], truths[p], crop=8, peak=65535), 3) for p in paths}
        return round(mean_psnr(per_image.values()), 3), per_image

    rows = []
    settings = convert.Settings(model=m.name, wb="none", colorspace="raw", gamma="linear", exposure=0, bits=16)
    jobs, _ = convert.plan([Path(p) for p in paths], out, settings.suffix, overwrite=True)
    results: list = []
    n_workers = min(len(jobs), workers or convert.default_workers())
    start = time.perf_counter()
    convert.run_local(jobs, settings, n_workers, results.append)
    batch_seconds = time.perf_counter() - start
    failed = [r for r in results if r.status != "converted"]
    if failed:
        raise RuntimeError(f"imgadapt convert failed on {failed[0].src}: {failed[0].message}")
    psnr_db, per_image = score({p: read_array(out / (Path(p).stem + ".png")) for p in paths})
    rows.append({"method": f"imgadapt convert ({n_workers} workers x 1 thread, PNG written)",
                 "source": m.name, "psnr_db": psnr_db,
                 "per_image": per_image, "mp_s": _rate(megapixels / batch_seconds)})
    methods = {
        "imgadapt raw.read+develop": Method(lambda p: raw.develop(raw.read(p), m, **linear), m.name),
        "libraw-ahd imread+postprocess": Method(_libraw_linear16, "rawpy (LibRaw AHD)"),
    }
    for method, entry in methods.items():
        fn, source = entry.run, entry.source
        psnr_db, per_image = score({p: fn(p) for p in paths})
        speed = throughput(lambda fn=fn: [fn(p) for p in paths], megapixels, repeats)
        rows.append({"method": method, "source": source, "psnr_db": psnr_db, "per_image": per_image,
                     "mp_s": _rate(speed)})
    for row in rows:
        log.info("%-48s %-22s %7.3f dB %7.2f MP/s", row["method"], row["source"], row["psnr_db"], row["mp_s"])
    return rows


# --------------------------------------------------------------------------------------------
# Boundary detection: BSDS-style ODS / OIS / AP (see imgadapt.bench.boundary_metrics)


def _rate(megapixels_per_second: float) -> float:
    """A throughput to three significant digits (a slow method on tiny images stays above zero)."""
    return float(f"{megapixels_per_second:.3g}")

def evaluate_edges(dataset: list[tuple[str, np.ndarray, list[np.ndarray]]], methods: dict[str, Method],
                   thresholds: int = 99, max_dist: float = 0.0075, repeats: int = 3) -> list[dict]:
    """BSDS-style ODS, OIS and AP (:mod:`imgadapt.bench.boundary_metrics`) and input throughput.

    Probability maps go through the Structured Edge toolbox's non-maximum suppression
    (:func:`imgadapt._nms.edge_nms`) before they are thresholded and thinned, as boundary maps are
    reported on BSDS500; binary levels (Canny) are evaluated as they are.

    Args:
        dataset: ``(name, 8-bit gray or BGR image, annotators' boundary maps)`` triples.
        methods: ``name -> Method``.
        thresholds: evenly spaced thresholds of probability maps (BSDS: 99, 0.01 to 0.99).
        max_dist: matching distance as a fraction of the image diagonal (BSDS: 0.0075).
        repeats: timed runs of ``run`` over the dataset (median, after one warm-up).

    Returns:
        One row per method: ``method``, ``source``, ``ods``, ``ois``, ``ap``, ``ods_at`` (the level of
        the ODS: threshold or setting), ``ods_precision``, ``ods_recall``, ``per_image`` (name -> F at
        the image's best level) and ``mp_s`` (input megapixels per second through ``run``).
    """
    from . import boundary_metrics as bm
    from .._nms import edge_nms

    values = bm.bsds_thresholds(thresholds)
    megapixels = sum(image.shape[0] * image.shape[1] for _, image, _ in dataset) / 1e6
    rows = []
    for method, m in methods.items():
        counts = []
        for name, image, gts in dataset:
            if m.levels is not None:
                levels = m.levels(image)
            else:
                prob = m.run(image)
                if getattr(prob, "shape", None) != image.shape[:2]:
                    raise InputValueError(f"{method}: expected a boundary map of shape {image.shape[:2]} for {name}, "
                                          f"got {getattr(prob, 'shape', type(prob).__name__)}")
                prob = edge_nms(bm.check_probability(prob, f"{method} on {name}"))  # as boundary maps are reported
                levels = bm.threshold_levels(prob, values)
            counts.append(bm.level_counts(levels, gts, max_dist=max_dist))
        s = bm.boundary_scores(counts)
        names = m.level_names if m.levels is not None else tuple(f"t={t:.2f}" for t in values)
        speed = throughput(lambda run=m.run: [run(image) for _, image, _ in dataset], megapixels, repeats)
        row = {"method": method, "source": m.source, "ods": round(s["ods"], 4), "ois": round(s["ois"], 4),
               "ap": round(s["ap"], 4), "ods_at": names[s["ods_level"]],
               "ods_precision": round(s["ods_precision"], 4), "ods_recall": round(s["ods_recall"], 4),
               "per_image": {name: round(f, 4) for (name, _, _), f in zip(dataset, s["image_f"])},
               "mp_s": _rate(speed)}
        log.info("%-24s %-16s ODS %.4f OIS %.4f AP %.4f %9.2f MP/s", method, row["source"], row["ods"],
                 row["ois"], row["ap"], row["mp_s"])
        rows.append(row)
    return rows


EDGE_PEER_SIGMAS = (0.0, 2.0)


def edge_methods(models: list[str] | None = None, peers: bool = True,
                 tile: int | None = DEFAULT_TILE) -> dict[str, Method]:
    """The imgadapt edges models (loaded once with ``tile``; ``None``: every installed one) and, with
    ``peers``, :func:`edge_peers`."""
    from .._model import load, registry

    if models is None:
        models = registry().list("edges")
    methods: dict[str, Method] = {}
    for name in models:
        model = load(name, task="edges", tile=tile)
        methods[model.name] = Method(model, "imgadapt")
    if peers:
        methods.update(edge_peers())
    return methods


def edge_peers() -> dict[str, Method]:
    """OpenCV Sobel and Canny (:mod:`imgadapt.bench.edge_peers`), each without and with a Gaussian blur."""
    from . import edge_peers as ep

    methods: dict[str, Method] = {}
    for sigma in EDGE_PEER_SIGMAS:
        blur = f"opencv-gauss({sigma:g})+" if sigma else "opencv-"
        methods[f"{blur}sobel"] = Method(lambda im, s=sigma: ep.sobel_probability(im, s), "opencv-python")
        methods[f"{blur}canny"] = Method(
            lambda im, s=sigma: ep.canny(im, ep.CANNY_DEFAULT_HIGH, s), "opencv-python",
            levels=lambda im, s=sigma: ep.canny_levels(im, s),
            level_names=tuple(f"high={h:g}" for h in ep.CANNY_HIGHS))
    return methods
