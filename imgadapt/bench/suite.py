"""``imgadapt bench``: every imgadapt model of a task next to every installed peer, in one run.

Quality and throughput come from the evaluation code (:mod:`imgadapt.bench.demosaic_eval`,
``sr_eval`` and ``edges_eval``; the protocols the README states), one method at a time on the same
data; peak memory comes from a fresh process per method (:mod:`imgadapt.bench.peak_memory`). Peers
whose package is not installed are left out with a note, never replaced. :func:`scaling` measures the
models on synthetic frames of growing size, tiled and untiled.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from . import demosaic_eval, edges_eval, sr_eval
from .evaluate import load_images
from .._checks import check_choice
from ..errors import InputValueError, UnknownNameError
from .._model import DEFAULT_TILE
from .._registry import TASKS

log = logging.getLogger("imgadapt")

QUALITY = {"demosaic": "psnr_db", "sr": "psnr_db", "edges": "ods"}
SCALING_SIZES = (1.0, 2.0, 4.0, 8.0, 16.0, 24.0)
UNTILED_MAX_MP = 4.0
MAX_SIZE_MP = 100.0


def skipped_peers(task: str) -> list[str]:
    """A note for each peer of ``task`` whose package is not installed (only demosaicking has such peers)."""
    if task != "demosaic":
        return []
    from .peer_base import PEERS_EXTRA
    from .peers import DEMOSAIC_PEERS

    return [f"{p.name}: skipped, the {p.source!r} package is not installed ({PEERS_EXTRA})"
            for p in DEMOSAIC_PEERS.values() if not p.available()]


def methods(task: str, scale: int | None = None, models: list[str] | None = None,
            only: list[str] | None = None, tile: int | None = DEFAULT_TILE) -> tuple[dict, list[str]]:
    """The methods of a bench run (imgadapt models loaded once, installed peers) and the skip notes.

    Args:
        task: ``demosaic``, ``sr`` or ``edges``.
        scale: sr: the upscaling factor (its models only).
        models: imgadapt models (default: every installed one of the task, sr: of ``scale``).
        only: keep these methods (models or peers), in this order.
        tile: the models' tile size (0: untiled).

    Raises:
        UnknownNameError: a name of ``only`` is not offered by this run.
    """
    task = check_choice(task, TASKS, "bench task")
    if task == "demosaic":
        from .._model import registry

        found = demosaic_eval.demosaic_methods(registry().list("demosaic") if models is None else models, tile=tile)
    elif task == "sr":
        found = sr_eval.sr_methods(scale, models, tile=tile)
    else:
        found = edges_eval.edge_methods(models, tile=tile)
    notes = skipped_peers(task)
    if only:
        unknown = [n for n in only if n not in found]
        if unknown:
            missing = [n for n in notes if n.split(":")[0] in unknown]
            raise UnknownNameError("; ".join(missing) if len(missing) == len(unknown) else
                                   f"unknown method(s) {', '.join(map(repr, unknown))} for bench {task}: "
                                   f"expected some of {', '.join(found) or 'none installed'}")
        found = {n: found[n] for n in only}
        notes = [n for n in notes if n.split(":")[0] in only]
    return found, notes


def source_of(method) -> str:
    return method.source


def call_of(task: str, method, pattern: str = "RGGB") -> Callable[[np.ndarray], np.ndarray]:
    """The method as ``input array -> output``, the call that is timed."""
    fn = method.run
    return (lambda x: fn(x, pattern)) if task == "demosaic" else fn


def load_data(task: str, images: str | Path, gt: str | Path | None = None):
    """The evaluation data of ``task``: ``(name, image)`` pairs, or for edges ``(name, image, gt maps)``."""
    if task == "edges":
        if gt is None:
            raise InputValueError("bench edges: expected a ground-truth folder (--gt DIR), got none")
        from .boundary_io import load_edge_dataset

        return load_edge_dataset(images, gt)
    return load_images(images)


def inputs_of(task: str, data, scale: int | None = None) -> list[np.ndarray]:
    """What the methods are given: mosaics (demosaic), low-resolution images (sr), images (edges)."""
    if task == "demosaic":
        return [mos for _, _, mos in demosaic_eval.demosaic_inputs(data)]
    if task == "sr":
        return [lr for _, _, lr in sr_eval.sr_pairs(data, scale)]
    return [image for _, image, _ in data]


def counted_megapixels(task: str, inputs: list[np.ndarray], scale: int | None = None) -> float:
    """The megapixels MP/s counts: of the input (demosaic, edges) or of the output (sr)."""
    factor = scale * scale if task == "sr" else 1
    return sum(x.shape[0] * x.shape[1] for x in inputs) * factor / 1e6


def evaluate(task: str, data, found: dict, scale: int | None = None, repeats: int = 5) -> list[dict]:
    """Quality and speed rows of ``found`` on ``data`` (the task's ``*_eval`` module)."""
    if task == "demosaic":
        return demosaic_eval.evaluate_demosaic(data, found, repeats=repeats)
    if task == "sr":
        return sr_eval.evaluate_sr(data, scale, found, repeats=repeats)
    return edges_eval.evaluate_edges(data, found, repeats=repeats)


def _check_task(task: str, scale):
    task = check_choice(task, TASKS, "bench task")
    if task == "sr":
        if scale is None:
            raise InputValueError("bench sr: expected an upscaling factor (--scale 2 to 8), got none")
        scale = sr_eval.check_sr_scale(scale)
    return task, scale if task == "sr" else None


def _memory(spec: dict) -> dict:
    """:func:`imgadapt.bench.peak_memory.measure`, with a failure logged and recorded rather than raised."""
    from .peak_memory import measure

    try:
        return measure(spec)
    except (RuntimeError, OSError, ValueError) as exc:
        log.warning("%s", exc)
        return {"peak_mb": None, "memory_how": f"failed: {exc}"}


def bench(task: str, images: str | Path, *, scale: int | None = None, gt: str | Path | None = None,
          models: list[str] | None = None, only: list[str] | None = None, repeats: int = 5,
          memory: bool = True, progress=None) -> tuple[list[dict], list[str]]:
    """Measure every method of a task on the images of a folder.

    Args:
        task: ``demosaic``, ``sr`` or ``edges``.
        images: folder of clean 8-bit colour images (edges: 8-bit gray or colour scenes).
        scale: sr: the upscaling factor, 2 to 8.
        gt: edges: the ground-truth folder (see :func:`imgadapt.bench.boundary_io.load_edge_dataset`).
        models, only: see :func:`methods`.
        repeats: timed passes over the images per method (median, after a warm-up pass).
        memory: measure each method's peak memory in a fresh process.
        progress: a :class:`imgadapt.cli.progress.Progress` (``total``, ``advance()``, ``clear()``), advanced per method.

    Returns:
        ``(rows, notes)``: one row per method (``task``, ``method``, ``source``, the quality figures
        of the task's ``*_eval`` module, ``mp_s``, ``megapixels``, with ``memory`` ``peak_mb`` and
        ``process_peak_mb``), and a note per peer left out.
    """
    task, scale = _check_task(task, scale)
    data = load_data(task, images, gt)
    found, notes = methods(task, scale, models, only)
    if not found:
        raise UnknownNameError(f"bench {task}: nothing to measure (no model or peer installed)")
    megapixels = counted_megapixels(task, inputs_of(task, data, scale), scale)
    if progress is not None:
        progress.total = len(found)
    rows = []
    for name, method in found.items():
        if progress is not None:
            progress.clear()  # the evaluation logs a line
        (row,) = evaluate(task, data, {name: method}, scale, repeats)
        row = {"task": task, **row, "megapixels": round(megapixels, 4)}
        if memory:
            spec = {"task": task, "images": str(images), "gt": None if gt is None else str(gt), "scale": scale,
                    "method": name, "model": source_of(method) == "imgadapt"}
            mem = _memory(spec)
            row.update(peak_mb=mem.get("peak_mb"), process_peak_mb=mem.get("process_peak_mb"),
                       memory_how=mem.get("memory_how"))
        rows.append(row)
        if progress is not None:
            progress.advance()
    rows.sort(key=lambda r: -r[QUALITY[task]])
    return rows, notes


# --------------------------------------------------------------------------------------------
# Scaling: synthetic frames of growing size


def frame_shape(megapixels: float, task: str, scale: int | None = None) -> tuple[int, int]:
    """Input ``(h, w)`` of a 3:2 frame of ``megapixels`` counted as MP/s counts them (sr: output), even sides."""
    factor = scale * scale if task == "sr" else 1
    pixels = megapixels * 1e6 / factor
    w = max(2, int(round((pixels * 1.5) ** 0.5 / 2)) * 2)
    return max(2, int(round(w / 1.5 / 2)) * 2), w


def synthetic_input(task: str, megapixels: float, scale: int | None = None, seed: int = 0) -> np.ndarray:
    """An 8-bit test frame with smooth shading and sharp detail: a mosaic (demosaic) or BGR image."""
    h, w = frame_shape(megapixels, task, scale)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, h // 64), max(2, w // 64), 3)).astype(np.uint8)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    image[::7] //= 2  # thin lines: high frequencies
    if task == "demosaic":
        from ..bayer import mosaic

        return mosaic(image, "RGGB")
    return image


def prepare(spec: dict) -> tuple[list[np.ndarray], Callable, float]:
    """``(inputs, call, megapixels)`` of a measuring spec (run in the child of :mod:`imgadapt.bench.peak_memory`).

    ``spec``: ``task``, ``scale``, ``method``, ``model`` (whether it is an imgadapt model), and either
    ``images`` (and ``gt``) or ``synthetic_mp``; ``tile`` (models: tile size, 0 = untiled).
    """
    task, scale, name = spec["task"], spec.get("scale"), spec["method"]
    if spec.get("synthetic_mp") is not None:
        inputs = [synthetic_input(task, float(spec["synthetic_mp"]), scale)]
    else:
        inputs = inputs_of(task, load_data(task, spec["images"], spec.get("gt")), scale)
    found, _ = methods(task, scale, [name] if spec.get("model") else [], [name], tile=spec.get("tile", DEFAULT_TILE))
    return inputs, call_of(task, found[name]), counted_megapixels(task, inputs, scale)


def check_sizes(sizes) -> tuple[float, ...]:
    """Frame sizes in megapixels: positive, at most :data:`MAX_SIZE_MP`."""
    sizes = tuple(float(s) for s in sizes)
    if not sizes or not all(0 < s <= MAX_SIZE_MP for s in sizes):
        raise InputValueError(f"sizes: expected megapixels in (0, {MAX_SIZE_MP:g}], got {list(sizes)}")
    return tuple(sorted(set(sizes)))


def _untiled_differs(task: str, megapixels: float, scale: int | None, untiled_max_mp: float) -> bool:
    """Whether an untiled run of this frame is worth measuring: its input spans more than one tile and
    has at most ``untiled_max_mp`` megapixels."""
    h, w = frame_shape(megapixels, task, scale)
    return max(h, w) > DEFAULT_TILE and h * w <= untiled_max_mp * 1e6 * 1.01  # frames round to even sides


def scaling(task: str, *, scale: int | None = None, models: list[str] | None = None, only: list[str] | None = None,
            sizes=SCALING_SIZES, repeats: int = 3, untiled_max_mp: float = UNTILED_MAX_MP,
            progress=None) -> list[dict]:
    """Throughput and peak memory of each model on synthetic frames of each size, one fresh process per
    measurement; models run in fixed tiles of ``DEFAULT_TILE`` px and also untiled (``tile=0``) where the frame's
    input spans more than one tile and has at most ``untiled_max_mp`` megapixels.

    Rows: ``task``, ``method``, ``source``, ``tile`` (the tile size in px, ``"off"``, or ``None`` for a peer),
    ``megapixels`` (as MP/s counts them), ``mp_s``, ``peak_mb``, ``mb_per_mp``, ``io_mb`` (input and
    output arrays), ``process_peak_mb``.
    """
    task, scale = _check_task(task, scale)
    sizes = check_sizes(sizes)
    found, _ = methods(task, scale, models, only)
    if only is None:
        found = {n: m for n, m in found.items() if source_of(m) == "imgadapt"}
    if not found:
        raise UnknownNameError(f"bench {task} --scaling: no imgadapt model of the task is installed")
    runs = []
    for name, method in found.items():
        is_model = source_of(method) == "imgadapt"
        for tile in ((DEFAULT_TILE, 0) if is_model else (None,)):
            runs += [(name, is_model, tile, mp) for mp in sizes if tile != 0 or _untiled_differs(task, mp, scale, untiled_max_mp)]
    if progress is not None:
        progress.total = len(runs)
    rows = []
    for name, is_model, tile, mp in runs:
        spec = {"task": task, "scale": scale, "method": name, "model": is_model, "synthetic_mp": mp,
                "repeats": repeats}
        if tile is not None:
            spec["tile"] = tile
        if progress is not None:
            progress.clear()
        result = _memory(spec)
        peak = result.get("peak_mb")
        rows.append({"task": task, "method": name, "source": source_of(found[name]),
                     "tile": None if tile is None else (str(tile) if tile else "off"),
                     "megapixels": result.get("megapixels", mp), "mp_s": result.get("mp_s"), "peak_mb": peak,
                     "mb_per_mp": None if peak is None else round(peak / result.get("megapixels", mp), 1),
                     "io_mb": result.get("io_mb"), "process_peak_mb": result.get("process_peak_mb")})
        log.info("%-24s tile %-7s %7.2f MP %9s MP/s %9s MB peak", name, rows[-1]["tile"], rows[-1]["megapixels"],
                 rows[-1]["mp_s"], peak)
        if progress is not None:
            progress.advance()
    return rows
