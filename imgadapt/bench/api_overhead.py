"""``imgadapt bench TASK --api-overhead``: what the API costs on top of the network, in one process.

Two measurements, each with the methods taking turns (interleaved rounds after a warm-up, median
of ``repeats``; on a shared machine only the ratios mean something):

- :func:`api_overhead`: one large frame (24 MP by default; a uint16 mosaic for demosaicking, a
  uint8 BGR image otherwise) through the public function (``imgadapt.demosaic`` / ``upscale`` /
  ``edges`` with default settings), through a loaded model with fixed tiles of
  :data:`imgadapt._model.DEFAULT_TILE` (the default before the tile policy), and the bare network:
  its ONNX file in a session of its own (same options) run on the float32 input of the same frame,
  unpadded and already converted (no conversion timed). ``over_graph`` is time over the graph's time.
  The fixed-tile model gets a session of its own too, so that its tile-sized calls do not reshape
  the memory arena of the session the API uses.
- :func:`batch_throughput`: ``frames`` frames of ``side`` x ``side`` through a loop of single calls
  and through :meth:`imgadapt.Model.batch` (a list, and a stacked array).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from .. import _session
from .._checks import full_scale
from .timing import interleaved
from .._model import DEFAULT_TILE, _gray_into, check_model_arg, default_name, load

API_FRAME = (4000, 6000)


def scene(task: str, shape: tuple[int, int], dtype, seed: int = 0) -> np.ndarray:
    """A smooth random scene with edges and some noise: a Bayer mosaic (RGGB) for demosaicking, else BGR."""
    rng = np.random.default_rng(seed)
    h, w = shape
    small = rng.random((max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    img = np.clip(img + 0.02 * rng.standard_normal((h, w, 3)).astype(np.float32), 0, 1)
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        img = np.round(img * np.iinfo(dtype).max).astype(dtype)
    else:
        img = img.astype(dtype)
    if task == "demosaic":
        from .. import bayer

        return bayer.mosaic(img, "RGGB")
    return img


def _model_name(task: str, name: str | None, scale: int | None) -> str:
    return name or default_name(task, scale)


def _public(task: str, name: str, scale: int) -> Callable:
    import imgadapt

    if task == "demosaic":
        return lambda x: imgadapt.demosaic(x, "RGGB", model=name)
    if task == "sr":
        return lambda x: imgadapt.upscale(x, scale, model=name)
    return lambda x: imgadapt.edges(x, model=name)


def graph_input(model, frame: np.ndarray) -> np.ndarray:
    """The network's ``(1, C, H, W)`` float32 input for ``frame``, unpadded (an RGGB mosaic as it is)."""
    scale = 1.0 / full_scale(frame.dtype)
    if frame.ndim == 2:
        x = np.empty((1, 1) + frame.shape, np.float32)
        np.multiply(frame, np.float32(scale), out=x[0, 0]) if frame.dtype.kind == "u" else np.copyto(x[0, 0], frame)
        return np.repeat(x, model.in_channels, axis=1) if model.in_channels > 1 else x
    if model.in_channels == 1:
        x = np.empty((1, 1) + frame.shape[:2], np.float32)
        _gray_into(frame, x[0, 0], scale)
        return x
    return np.ascontiguousarray((frame[..., ::-1].astype(np.float32) * np.float32(scale)).transpose(2, 0, 1)[None])


def bare_session(model):
    """The model's ONNX in a session of its own, with the model's threads and optimisation level."""
    ort = _session.ort()
    opts = _session.session_options(model.threads, model.card.get("runtime", {}).get("graph_optimization", "extended"))
    return ort.InferenceSession(model._registry.verified_bytes(model.card), opts, providers=["CPUExecutionProvider"]
                                if model.device == "cpu" else _session.provider_entries(model.providers))


def api_overhead(task: str, name: str | None = None, scale: int | None = None, shape=API_FRAME, dtype=None,
                 repeats: int = 5) -> list[dict]:
    """Rows ``{method, seconds, mp_s, over_graph}``: the public API (default settings), a loaded
    model with fixed :data:`DEFAULT_TILE` tiles, and the bare graph, on one frame of ``shape``."""
    name = _model_name(task, name, scale)
    model = check_model_arg(name, task)
    dtype = dtype or (np.uint16 if task == "demosaic" else np.uint8)
    frame = scene(task, shape, dtype)
    x = graph_input(model, frame)
    session = bare_session(model)
    feed = {session.get_inputs()[0].name: x}
    fixed = load(name, task=task, threads=model.threads, providers=model.providers, tile=DEFAULT_TILE)
    fixed.session = bare_session(fixed)  # its own memory arena: tiles and whole frames do not share one
    call = _public(task, name, model.scale)
    methods = {"graph": lambda: session.run(None, feed), "api": lambda: call(frame),
               f"tiles {DEFAULT_TILE}": lambda: fixed(frame)}
    seconds = interleaved(methods, repeats)
    mp = shape[0] * shape[1] / 1e6
    return [{"model": name, "method": k, "megapixels": mp, "seconds": s, "mp_s": mp / s,
             "over_graph": s / seconds["graph"]} for k, s in seconds.items()]


def batch_throughput(task: str, name: str | None = None, scale: int | None = None, frames: int = 256,
                     side: int = 512, dtype=None, repeats: int = 3) -> list[dict]:
    """Rows ``{method, seconds, mp_s, over_loop}`` for ``frames`` frames of ``side`` x ``side``:
    a loop of ``model(frame)``, ``model.batch(list)`` and ``model.batch(stacked array)``."""
    name = _model_name(task, name, scale)
    model = check_model_arg(name, task)
    dtype = dtype or (np.uint16 if task == "demosaic" else np.uint8)
    stack = np.stack([scene(task, (side, side), dtype, seed=i) for i in range(frames)])
    frame_list = list(stack)
    methods = {"loop": lambda: [model(f) for f in frame_list], "batch(list)": lambda: model.batch(frame_list),
               "batch(stack)": lambda: model.batch(stack)}
    seconds = interleaved(methods, repeats)
    mp = frames * side * side / 1e6
    return [{"model": name, "method": k, "frames": frames, "side": side, "seconds": s, "mp_s": mp / s,
             "over_loop": s / seconds["loop"]} for k, s in seconds.items()]


def table(rows: list[dict]) -> list[str]:
    """Printed lines of :func:`api_overhead` or :func:`batch_throughput` rows."""
    lines = []
    for r in rows:
        ratio = f"{r['over_graph']:.3f} x graph" if "over_graph" in r else f"{r['over_loop']:.3f} x loop"
        size = f"{r['megapixels']:.1f} MP" if "megapixels" in r else f"{r['frames']} x {r['side']}^2"
        lines.append(f"{r['model']:28s} {r['method']:14s} {size:>14s} {r['seconds']:8.3f} s "
                     f"{r['mp_s']:8.2f} MP/s  {ratio}")
    return lines
