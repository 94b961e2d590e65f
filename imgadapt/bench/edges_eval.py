"""Boundary detection quality and speed: BSDS-style ODS / OIS / AP (:mod:`imgadapt.bench.boundary_metrics`),
models and OpenCV Sobel and Canny."""
from __future__ import annotations

import logging

import numpy as np

from ..errors import InputValueError
from .method import Method
from .._model import DEFAULT_TILE
from .evaluate import rate, throughput

log = logging.getLogger("imgadapt")


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
               "mp_s": rate(speed)}
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
