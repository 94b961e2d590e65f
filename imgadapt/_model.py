"""A loaded model: its card, a cached onnxruntime session, the tile policy, batches, and the task's
pre/post-processing.

Every call goes the same way: the frames (one, or a batch of frames of one shape and dtype) stay in
their own dtype; the tile policy (:mod:`imgadapt._budget`) decides whole frames or tiles; for each
call of the network, the window (the frame or a tile, extended by the Bayer phase shift and the
halo by mirroring) is converted to the network's float32 input, the network runs, and the output is
cropped, clipped, rounded, cast and put in channel order straight into the result array. Where that
per-pixel work runs depends on the provider:

- CUDA: in small ONNX graphs chained to the model on the GPU (:mod:`imgadapt._graphs`,
  :class:`imgadapt._chain.Chain`); the host uploads the frames once and downloads the result once;
- CPU: in numpy and OpenCV on reused buffers, onnxruntime reading and writing them through IO
  binding; measured faster there than the same graphs run by onnxruntime's CPU kernels (a 1-MP tile:
  2 ms against 28 ms for the post-processing).

Both paths compute the same float32 operations, so they agree within one output level (the tests
run both on the CPU).
"""
from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from . import bayer, _budget, _chain, _graphs, _nms, _session
from ._checks import (check_bool_option, check_image, check_int_option, check_white_level, from_float,
                      full_scale, to_float)
from .errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError, UnknownNameError
from ._registry import Registry, public_card
from ._tiling import REFLECT_101, REPLICATE, border_index, fill_window, spans, take_window

DEFAULT_TILE = _budget.FALLBACK_TILE  # the fixed tiles of before (and of the auto policy when free memory is unknown)
AUTO = "auto"
_BAND_ROWS = 64  # output rows finished at a time on the host (their temporaries stay in the cache)
_PLANAR_MIN = 1 << 15  # pixels from which integer BGR is converted plane by plane, then interleaved
_registry = Registry()


def registry() -> Registry:
    return _registry


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def check_tile(tile) -> int | str | None:
    """``"auto"``, ``None`` or an integer >= 0 (returned as a plain ``int``)."""
    if isinstance(tile, str) and tile == AUTO:
        return AUTO
    if isinstance(tile, str):
        raise InputDtypeError(f'tile: expected "auto", None or an integer >= 0, got str {tile!r}')
    try:
        return check_int_option(tile, "tile", 0)
    except InputDtypeError:
        raise InputDtypeError(f'tile: expected "auto", None or an integer >= 0, got '
                              f"{type(tile).__name__} {tile!r}") from None
    except InputValueError:
        raise InputValueError(f'tile: expected "auto", None or an integer >= 0, got {tile!r}') from None


@dataclass
class _Job:
    """What one call does with its frames, on the host and in the graphs (see :mod:`imgadapt._graphs`)."""
    layout: str                   # _graphs.GRAY (N, H, W) or _graphs.BGR (N, H, W, 3)
    dtype: np.dtype               # of the frames
    convert: Callable             # host: (block of a frame, (C, h, w) float32 view) -> None
    scale: float = 1.0            # frames to [0, 1]: times this (integers; 1 for floats)
    to: str = _graphs.TO_BGR      # what becomes of the network's channels
    clip: bool = True             # clip to [0, 1] before the output conversion
    out_dtype: np.dtype = None    # of the result
    level: float = 1.0            # integers are written at this full scale (255, 65535 or the white level)
    top: float = 1.0              # and clipped to this (the white level rounded down)
    align: tuple = (0, 0, 0, 0)   # mirrored rows and columns added (top, bottom, left, right): the Bayer phase
    finish: Callable | None = None  # host: (frame, clipped float32 plane, core) -> finished tile (luma upscaling)

    @property
    def trailing(self) -> tuple:
        return (3,) if self.to == _graphs.TO_BGR or self.finish is not None else ()


def _to_float_into(src: np.ndarray, dst: np.ndarray, scale: float) -> None:
    """``dst[...] = to_float(src)`` (integers times the float32 ``scale``, floats cast), in one pass."""
    if src.dtype.kind == "u":
        np.multiply(src, np.float32(scale), out=dst)
    else:
        np.copyto(dst, src, casting="same_kind")


def _gray_into(src: np.ndarray, dst: np.ndarray, scale: float) -> None:
    """BT.601 luma of a BGR block (OpenCV's float ``BGR2GRAY`` weights), the same float32 operations
    wherever a pixel lies (OpenCV's own conversion rounds SIMD lanes and row tails differently, which
    would make tiles differ from whole frames)."""
    part = np.empty(dst.shape, np.float32)
    b, g, r = (np.float32(w) for w in _graphs.GRAY_WEIGHTS[:, 0])
    _to_float_into(src[..., 0], dst, scale)
    dst *= b
    _to_float_into(src[..., 1], part, scale)
    part *= g
    dst += part
    _to_float_into(src[..., 2], part, scale)
    part *= r
    dst += part


def _converter(layout: str, channels: int, scale: float) -> Callable:
    """The host conversion of a block of a frame to ``channels`` float32 planes (RGB order)."""
    if layout == _graphs.GRAY:
        def convert(src, dst):
            _to_float_into(src, dst[0], scale)
            for k in range(1, channels):
                dst[k] = dst[0]
    elif channels == 3:
        def convert(src, dst):
            for k in range(3):
                _to_float_into(src[..., 2 - k], dst[k], scale)
    else:
        def convert(src, dst):
            _gray_into(src, dst[0], scale)
    return convert


class _Scratch(threading.local):
    """Buffers reused from call to call (one set per thread): a fresh frame-sized array costs its
    page faults on every call. They start on 64-byte boundaries, as onnxruntime's own buffers do
    (its kernels run up to 13 % slower on the 16-byte-aligned memory numpy gives)."""

    ALIGN = 64

    def __init__(self):
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype=np.float32) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.size < size:
            raw = np.empty(size * dtype.itemsize + self.ALIGN, np.uint8)
            start = -raw.ctypes.data % self.ALIGN
            buf = self.buffers[name] = raw[start:start + size * dtype.itemsize].view(dtype)
        return buf[:size].reshape(shape)


class Model:
    """A reusable, callable model. Create it with :func:`imgadapt.load`.

    ``model(frame, ...)`` runs one frame; :meth:`batch` runs several in batched calls.
    """

    task = ""
    min_multiple = 1

    def __init__(self, card: dict, providers=None, threads: int | None = None, tile=AUTO,
                 strict: bool = False, registry: Registry | None = None):
        tile = check_tile(tile)
        threads = check_int_option(threads, "threads", 1)
        strict = check_bool_option(strict, "strict")
        reg = registry or _registry
        self.card = card
        self.name = card["name"]
        self.tile = tile
        self.providers = _session.choose_providers(providers, strict=strict)
        self.threads = threads
        self._registry = reg
        self.session = _session.get_session(str(reg.onnx_path(card)), lambda: reg.verified_bytes(card),
                                            self.providers, threads,
                                            card.get("runtime", {}).get("graph_optimization", "extended"))
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        batch = self.session.get_inputs()[0].shape[0] if self.session.get_inputs()[0].shape else None
        self._max_frames = batch if isinstance(batch, int) and batch > 0 else None  # a fixed batch size
        io = card.get("input", {})
        self.in_channels = int(io.get("channels", 3))
        self.multiple = max(int(io.get("multiple", 1)), self.min_multiple)
        self.scale = int(card.get("scale", 1))
        self.halo = int(card.get("receptive_field", 1)) // 2 + 1
        self.device = _chain.binding_device(self.session)
        # per-pixel work in ONNX graphs on the model's device (CUDA), or numpy/OpenCV on the host (CPU)
        self._graph_io = self.device == "cuda"
        self._scratch = _Scratch()
        self._out_channels = None
        self._floats_per_pixel = None
        self._chains: dict = {}

    def __repr__(self) -> str:
        return f"<imgadapt.Model {self.name} on {self.session.get_providers()[0]}>"

    @property
    def info(self) -> dict:
        return public_card(self.card)

    # --- the public calls ------------------------------------------------------------------------

    def __call__(self, image: np.ndarray, **options) -> np.ndarray:  # pragma: no cover - per task
        raise NotImplementedError

    def batch(self, frames, **options):
        """Run the model on several frames in batched network calls; options as for calling the model.

        Args:
            frames: a list (or tuple) of frames, each as the model takes it, of any sizes and dtypes;
                or one stacked array ``(N, H, W)`` / ``(N, H, W, C)`` of ``N`` frames.

        Returns:
            A list of results in the order of ``frames`` for a list; one stacked array ``(N, ...)``
            for a stacked array. Each result equals ``model(frame, **options)``.

        Frames of one shape and dtype are stacked into calls of as many frames as the tile policy's
        memory budget holds (frames larger than it are tiled, one frame at a time).
        """
        if isinstance(frames, np.ndarray):
            if frames.ndim not in (3, 4):
                raise InputShapeError(f"frames: expected a list of frames or a stacked (N, H, W) or (N, H, W, C) "
                                      f"array, got a {frames.ndim}-D array of shape {frames.shape}")
            if len(frames) == 0:
                raise InputSizeError("frames: expected at least one frame, got an empty stack of shape "
                                     f"{frames.shape}")
            return self._frames(list(frames), options, stacked=True)
        if not isinstance(frames, (list, tuple)):
            raise InputDtypeError(f"frames: expected a list of frames or a stacked numpy array, "
                                  f"got {type(frames).__name__}")
        if not frames:
            return []
        return self._frames(list(frames), options, stacked=False)

    def _frames(self, frames: list, options: dict, stacked: bool, single: bool = False):
        """Check the options and every frame, group frames of one shape and dtype, run each group
        batched; the results in the order of ``frames`` (stacked again for a stacked input)."""
        options = self._options(options)
        checked = [self._check(f, None if single else i, options) for i, f in enumerate(frames)]
        groups: dict = {}
        for i, frame in enumerate(checked):
            groups.setdefault((frame.shape, frame.dtype.str), []).append(i)
        if stacked and len(groups) == 1:
            return self._post(self._run(checked, self._job(checked, options)), frames[0], options)
        results: list = [None] * len(frames)
        for indices in groups.values():
            group = [checked[i] for i in indices]
            out = self._run(group, self._job(group, options))
            for k, i in enumerate(indices):
                results[i] = self._post(out[k], frames[i], options)
        return np.stack(results) if stacked else results

    # --- per task (overridden) ----------------------------------------------------------------------

    def _options(self, options: dict) -> dict:
        """The call's options, checked."""
        raise NotImplementedError

    def _check(self, frame, index, options) -> np.ndarray:
        """One frame, checked (``index``: its place in a batch, for messages)."""
        raise NotImplementedError

    def _job(self, frames: list, options: dict) -> _Job:
        """What the calls do with these frames (of one shape and dtype)."""
        raise NotImplementedError

    def _post(self, result: np.ndarray, original, options: dict) -> np.ndarray:
        """A finished result (or a stack of them) as the caller gets it."""
        return result

    # --- the tile policy ------------------------------------------------------------------------------

    def _device_id(self) -> int:
        return _chain.cuda_device_id(self.session) if self.device == "cuda" else 0

    def _bytes_per_pixel(self, job: _Job | None = None) -> float:
        """Estimated memory of one network call per pixel of its (extended) input window: the
        network's tensors (:func:`imgadapt._budget.floats_per_pixel`, times the allocator factor), the
        float32 input and output, the finished output and, with the graphs, the frames on the device."""
        if self._floats_per_pixel is None:
            data = self._registry.verified_bytes(self.card)
            self._floats_per_pixel = _budget.floats_per_pixel(data, self.in_channels)
        s2 = self.scale ** 2
        out_itemsize = np.dtype(job.out_dtype).itemsize if job is not None else 4
        trailing = 3 if job is None or job.trailing else 1
        in_itemsize = np.dtype(job.dtype).itemsize * (3 if job.layout == _graphs.BGR else 1) if job else 4
        return (4 * (_budget.ARENA_FACTOR * self._floats_per_pixel + self.in_channels + self._net_channels() * s2)
                + out_itemsize * trailing * s2 + (in_itemsize if self._graph_io else 0))

    def _plan(self, shape: tuple[int, int], frames: int, job: _Job) -> tuple[int, int]:
        """``(tile, frames per call)`` for ``frames`` frames whose extended size is ``shape``."""
        halo = _round_up(self.halo, self.multiple)
        if self.tile == AUTO:
            if frames == 1 and max(shape) <= _budget.FALLBACK_TILE + 2 * halo:
                return 0, 1  # one fixed tile's window: whole, whatever the budget
            budget = _budget.budget_bytes(self.device, self._device_id())
            return _budget.auto_tile(budget, self._bytes_per_pixel(job), halo, self.multiple, shape, frames)
        tile = self.tile or 0
        window = shape[0] * shape[1]
        if tile:  # as many frames per call as one tile's window holds
            return tile, max(1, min(frames, (tile + 2 * halo) ** 2 // window))
        if frames == 1:
            return 0, 1
        budget = _budget.budget_bytes(self.device, self._device_id())
        if budget is None:
            return 0, 1
        return 0, max(1, min(frames, int(budget // (window * self._bytes_per_pixel(job)))))

    # --- running ----------------------------------------------------------------------------------------

    def _net_channels(self) -> int:
        """Channels of the network's output (read from the graph, or from one small run)."""
        if self._out_channels is None:
            dim = self.session.get_outputs()[0].shape[1] if len(self.session.get_outputs()[0].shape) > 1 else None
            if isinstance(dim, int):
                self._out_channels = dim
            else:
                side = 2 * _round_up(self.halo, self.multiple) + 2 * self.multiple
                x = np.zeros((1, self.in_channels, side, side), np.float32)
                self._out_channels = int(self.session.run(None, {self._input: x})[0].shape[1])
        return self._out_channels

    def _run(self, frames: list, job: _Job) -> np.ndarray:
        """Run the network over ``frames`` (a list of checked frames of one shape and dtype); returns
        ``(N, H*s, W*s, ...)`` of ``job.out_dtype``.

        Each frame is extended by mirroring (without repeating the edge, which keeps a Bayer phase) by
        ``job.align`` and then by the model's halo, so border pixels see image-like context instead of
        zeros; the windows the network sees are read from the frames as they are (own dtype, strides).
        Memory: the frames, the result and the working set of one call.
        """
        n = len(frames)
        h, w = frames[0].shape[:2]
        s = self.scale
        top, bottom, left, right = job.align
        pad = _round_up(self.halo, self.multiple)
        mode = REFLECT_101 if min(h + top + bottom, w + left + right) > 1 else REPLICATE
        rows = border_index(h, [(top, bottom, REFLECT_101), (pad, pad, mode)])
        cols = border_index(w, [(left, right, REFLECT_101), (pad, pad, mode)])
        H, W = len(rows), len(cols)
        oy, ox = pad + top, pad + left  # the frame's origin in the extended frame
        out = np.empty((n, h * s, w * s) + job.trailing, job.out_dtype)
        tile, per_call = self._plan((H, W), n, job)
        per_call = min(per_call, self._max_frames or per_call)
        geometry = (rows, cols, oy, ox, h, w, mode == REFLECT_101)
        if not tile or (H <= tile + 2 * pad and W <= tile + 2 * pad):
            for i in range(0, n, per_call):
                self._call(frames[i:i + per_call], out[i:i + per_call], (0, H, 0, W), (0, H, 0, W), geometry, job)
            return out
        tile = max(_round_up(tile, self.multiple), self.multiple)
        ys = spans(oy, oy + h, H, tile, pad, self.multiple)
        xs = spans(ox, ox + w, W, tile, pad, self.multiple)
        for i in range(n):
            for y0, y1, ya, yb in ys:
                for x0, x1, xa, xb in xs:
                    self._call(frames[i:i + 1], out[i:i + 1], (y0, y1, x0, x1), (ya, yb, xa, xb), geometry, job)
        return out

    def _call(self, frames, out, core, window, geometry, job: _Job) -> None:
        """One network call on ``window`` (extended coordinates) of each frame, finishing ``core``."""
        rows, cols, oy, ox, h, w, mirrored = geometry
        y0, y1, x0, x1 = core
        ya, yb, xa, xb = window
        s = self.scale
        iy0, iy1, ix0, ix1 = max(y0, oy) - oy, min(y1, oy + h) - oy, max(x0, ox) - ox, min(x1, ox + w) - ox
        if iy0 >= iy1 or ix0 >= ix1:
            return
        crop = ((iy0 + oy - ya) * s, (iy1 + oy - ya) * s, (ix0 + ox - xa) * s, (ix1 + ox - xa) * s)
        dst = out[:, iy0 * s:iy1 * s, ix0 * s:ix1 * s]
        image_core = (iy0, iy1, ix0, ix1)
        if self._graph_io:
            self._call_graphs(frames, dst, window, crop, geometry, job, image_core)
        else:  # the frame's own rows and columns in the window: a plain block of it
            runs = ((max(ya, oy) - ya, min(yb, oy + h) - ya), (max(xa, ox) - xa, min(xb, ox + w) - xa))
            self._call_host(frames, dst, rows[ya:yb], cols[xa:xb], crop, job, image_core, runs)

    def _call_host(self, frames, dst, rows, cols, crop, job: _Job, core, runs) -> None:
        k, s = len(frames), self.scale
        x = self._scratch.get("input", (k, self.in_channels, len(rows), len(cols)))
        for j, frame in enumerate(frames):
            fill_window(x[j], frame, rows, cols, job.convert, runs)
        y = self._scratch.get("output", (k, self._net_channels(), len(rows) * s, len(cols) * s))
        binding = self.session.io_binding()
        binding.bind_input(self._input, "cpu", 0, np.float32, x.shape, x.ctypes.data)
        binding.bind_output(self._output, "cpu", 0, np.float32, y.shape, y.ctypes.data)
        self.session.run_with_iobinding(binding)
        c0, c1, d0, d1 = crop
        iy0, iy1, ix0, ix1 = core
        band = max(1, _BAND_ROWS // s)  # finished in bands of rows: their temporaries stay in the cache
        for j, frame in enumerate(frames):
            for b0 in range(iy0, iy1, band):
                b1 = min(iy1, b0 + band)
                rows = slice(c0 + (b0 - iy0) * s, c0 + (b1 - iy0) * s)
                self._finish_host(y[j, :, rows, d0:d1], dst[j, (b0 - iy0) * s:(b1 - iy0) * s], frame,
                                  (b0, b1, ix0, ix1), job)

    def _finish_host(self, planes: np.ndarray, dst: np.ndarray, frame, core, job: _Job) -> None:
        """The network's cropped ``(C, h, w)`` output (a scratch view: changed in place) into ``dst``."""
        if job.to == _graphs.TO_MEAN:
            planes = planes.mean(axis=0)[None]
        elif job.to == _graphs.TO_PLANE:
            planes = planes[:1]
        if job.clip:
            np.clip(planes, 0.0, 1.0, out=planes)
        if job.finish is not None:
            dst[...] = job.finish(frame, planes[0], core)
            return
        kind = np.dtype(job.out_dtype)
        if kind.kind == "u":
            depth = {1: cv2.CV_8U, 2: cv2.CV_16U}[kind.itemsize]
            level = (job.level,) * 4
            if job.to == _graphs.TO_BGR and planes[0].size >= _PLANAR_MIN:  # convert planes, then interleave
                ints = self._scratch.get("ints", planes.shape, kind)
                for c in range(3):
                    cv2.multiply(planes[c], level, dst=ints[c], dtype=depth)
                cv2.merge([ints[2], ints[1], ints[0]], dst=dst)
            elif job.to == _graphs.TO_BGR:  # small: interleave, then one conversion (fewer calls)
                bgr = cv2.merge([planes[2], planes[1], planes[0]], dst=self._scratch.get("bgr", dst.shape, np.float32))
                cv2.multiply(bgr, level, dst=dst, dtype=depth)
            else:
                cv2.multiply(planes[0], level, dst=dst, dtype=depth)
            if job.top < np.iinfo(kind).max:
                np.minimum(dst, int(job.top), out=dst)
        elif job.to == _graphs.TO_BGR:
            if kind == np.float32:
                cv2.merge([planes[2], planes[1], planes[0]], dst=dst)
            else:
                dst[...] = cv2.merge([planes[2], planes[1], planes[0]])
        else:
            np.copyto(dst, planes[0], casting="same_kind")

    def _chain(self, job: _Job) -> _chain.Chain:
        key = (np.dtype(job.dtype).str, job.layout, job.to, job.clip, np.dtype(job.out_dtype).str)
        chain = self._chains.get(key)
        if chain is None:
            out_dtype = np.float32 if job.finish is not None else job.out_dtype
            pre = _graphs.pre_graph(job.dtype, job.layout, self.in_channels)
            post = _graphs.post_graph(out_dtype, self._net_channels(), job.to, job.clip)
            sessions = [_session.get_session(f"imgadapt {name}-processing graph {hashlib.sha1(data).hexdigest()[:12]}",
                                             lambda d=data: d, self.providers, self.threads)
                        for name, data in (("pre", pre), ("post", post))]
            chain = self._chains[key] = _chain.Chain(sessions[0], self.session, sessions[1])
        return chain

    def _call_graphs(self, frames, dst, window, crop, geometry, job: _Job, core) -> None:
        rows, cols, oy, ox, h, w, mirrored = geometry
        ya, yb, xa, xb = window
        top, bottom, left, right = job.align
        pad = _round_up(self.halo, self.multiple)
        whole = (ya, yb, xa, xb) == (0, len(rows), 0, len(cols))
        # the graph mirrors the frame itself where ONNX's reflect padding can (each pad below the size)
        in_graph = whole and mirrored and max(top, bottom) < h and max(left, right) < w \
            and pad < h + top + bottom and pad < w + left + right
        if in_graph:
            image = frames[0][None] if len(frames) == 1 else np.stack(frames)
            pads, halo = _graphs.pad_vector(top, bottom, left, right), _graphs.pad_vector(pad, pad, pad, pad)
        else:
            image = np.stack([take_window(f, rows[ya:yb], cols[xa:xb]) for f in frames])
            pads = halo = _graphs.pad_vector(0, 0, 0, 0)
        c0, c1, d0, d1 = crop
        pre = {"scale": np.array(job.scale, np.float32), "pads": pads, "halo": halo}
        post = {"starts": np.array([c0, d0], np.int64), "ends": np.array([c1, d1], np.int64),
                "level": np.array(job.level, np.float32), "top": np.array(job.top, np.float32)}
        if job.finish is not None:
            planes = self._chain(job)(np.ascontiguousarray(image), pre, post,
                                      np.empty((len(frames), c1 - c0, d1 - d0), np.float32))
            for j, frame in enumerate(frames):
                dst[j] = job.finish(frame, planes[j], core)
            return
        if dst.flags.c_contiguous:
            self._chain(job)(np.ascontiguousarray(image), pre, post, dst)
        else:
            dst[...] = self._chain(job)(np.ascontiguousarray(image), pre, post, np.empty(dst.shape, dst.dtype))



def _frame_name(base: str, index) -> str:
    return base if index is None else f"frames[{index}]"


class DemosaicModel(Model):
    task = "demosaic"
    min_multiple = 2  # pads and tile origins must keep the Bayer phase

    def __call__(self, mosaic: np.ndarray, pattern: str = "RGGB", white_level: float | None = None) -> np.ndarray:
        """Demosaic an ``HxW`` Bayer mosaic into an ``HxWx3`` BGR image of the same dtype.

        Args:
            mosaic: ``HxW`` uint8, uint16 or float (0-1) mosaic, at least 2x2.
            pattern: the sensor's top-left 2x2: ``RGGB``, ``BGGR``, ``GRBG`` or ``GBRG``.
            white_level: for integer data whose full scale is below the dtype's (for example 4095
                for 12-bit data in uint16); the output uses the same scale.
        """
        return self._frames([mosaic], {"pattern": pattern, "white_level": white_level}, stacked=False, single=True)[0]

    def _options(self, options: dict) -> dict:
        white = options.get("white_level")  # checked with each frame, whose dtype bounds it
        return {"pattern": bayer.check_pattern(options.get("pattern", "RGGB")), "white_level": white}

    def _check(self, frame, index, options) -> np.ndarray:
        name = _frame_name("mosaic", index)
        mosaic = check_image(frame, name=name, channels=(1,), min_size=2)
        check_white_level(options["white_level"], mosaic, name=name)
        return mosaic

    def _job(self, frames: list, options: dict) -> _Job:
        dtype = frames[0].dtype
        white = None if options["white_level"] is None else float(options["white_level"])  # checked by _check
        integer = dtype.kind == "u"
        full = full_scale(dtype)
        level = white if white is not None else full
        # shifted and padded to read RGGB from the top-left with sides divisible by `multiple`
        top, left = bayer.rggb_offset(options["pattern"])
        h, w = frames[0].shape
        align = (top, (-(h + top)) % self.multiple, left, (-(w + left)) % self.multiple)
        scale = 1.0 / level if integer else 1.0
        return _Job(layout=_graphs.GRAY, dtype=dtype, convert=_converter(_graphs.GRAY, self.in_channels, scale),
                    scale=scale, to=_graphs.TO_BGR, clip=not integer, out_dtype=dtype, level=level,
                    top=float(int(level)), align=align)


def _replicated(image: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0:y1`` and columns ``x0:x1`` of ``image``, reaching past its border by repeating the edge."""
    h, w = image.shape[:2]
    return take_window(image, np.clip(np.arange(y0, y1), 0, h - 1), np.clip(np.arange(x0, x1), 0, w - 1))


def _image_job(model: Model, frame: np.ndarray, clip: bool, out_dtype) -> _Job:
    """The job of a gray or BGR image through an RGB (3-channel) or gray (1-channel) network."""
    dtype = frame.dtype
    full = full_scale(dtype)
    layout = _graphs.BGR if frame.ndim == 3 else _graphs.GRAY
    out_dtype = np.dtype(out_dtype)
    if layout == _graphs.BGR and model.in_channels == 3:
        to = _graphs.TO_BGR if model._net_channels() == 3 else _graphs.TO_PLANE
    else:
        to = _graphs.TO_MEAN if model._net_channels() == 3 else _graphs.TO_PLANE
    scale = 1.0 / full
    level = full if out_dtype.kind == "u" else 1.0
    return _Job(layout=layout, dtype=dtype, convert=_converter(layout, model.in_channels, scale), scale=scale,
                to=to, clip=clip, out_dtype=out_dtype, level=level, top=level)


class UpscaleModel(Model):
    task = "sr"
    _CUBIC_MARGIN = 4  # input pixels of context that cv2.resize's bicubic taps need (2) around a tile, with room

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Upscale a gray (``HxW`` or ``HxWx1``) or BGR image by the model's scale; same dtype and
        channels (``HxWx1`` stays ``HxWx1``).

        A luma model (one input channel) upscales the Y of a BGR image (BT.601, OpenCV's
        ``YCrCb``); the chroma planes are upscaled by bicubic interpolation (``cv2.resize``), to
        which the eye is far less sensitive. Each tile goes to float32 and back on its own.
        """
        return self._frames([image], {}, stacked=False, single=True)[0]

    def _options(self, options: dict) -> dict:
        return {}

    def _check(self, frame, index, options) -> np.ndarray:
        return check_image(frame, name=_frame_name("image", index), channels=(1, 3), min_size=1)

    def _job(self, frames: list, options: dict) -> _Job:
        job = _image_job(self, frames[0], True, frames[0].dtype)
        if self.in_channels == 1 and frames[0].ndim == 3:
            job.to, job.finish = _graphs.TO_PLANE, self._luma_finish(frames[0].dtype)
        return job

    def _luma_finish(self, dtype) -> Callable:
        s, m = self.scale, self._CUBIC_MARGIN

        def finish(image, y, core):
            y0, y1, x0, x1 = core  # chroma of these pixels: bicubic of the tile with the edge repeated
            ycc = cv2.cvtColor(to_float(_replicated(image, y0 - m, y1 + m, x0 - m, x1 + m)), cv2.COLOR_BGR2YCrCb)
            up = cv2.resize(ycc, (ycc.shape[1] * s, ycc.shape[0] * s), interpolation=cv2.INTER_CUBIC)
            up = np.ascontiguousarray(up[m * s:(m + y1 - y0) * s, m * s:(m + x1 - x0) * s])
            up[..., 0] = y
            return from_float(np.clip(cv2.cvtColor(up, cv2.COLOR_YCrCb2BGR), 0.0, 1.0), dtype)
        return finish

    def _post(self, result: np.ndarray, original, options: dict) -> np.ndarray:
        keep_axis = getattr(original, "ndim", 0) == 3 and original.shape[2] == 1
        return result[..., None] if keep_axis else result


class EdgeModel(Model):
    task = "edges"

    def __call__(self, image: np.ndarray, thin: bool = False, threshold: float = 0.5) -> np.ndarray:
        """Boundary probability of a gray (``HxW`` or ``HxWx1``) or BGR image: float32 ``HxW`` in [0, 1];
        with ``thin``, uint8 ``HxW`` thin edges (255, else 0, as ``cv2.Canny`` gives): the pixels of
        probability at least ``threshold`` that are maxima across the local edge orientation
        (:mod:`imgadapt._nms`)."""
        return self._frames([image], {"thin": thin, "threshold": threshold}, stacked=False, single=True)[0]

    def _options(self, options: dict) -> dict:
        thin = options.get("thin", False)
        if not isinstance(thin, (bool, np.bool_)):
            raise InputDtypeError(f"thin: expected a bool, got {type(thin).__name__}")
        return {"thin": bool(thin), "threshold": _nms.check_threshold(options.get("threshold", 0.5))}

    def _check(self, frame, index, options) -> np.ndarray:
        return check_image(frame, name=_frame_name("image", index), channels=(1, 3), min_size=1)

    def _job(self, frames: list, options: dict) -> _Job:
        job = _image_job(self, frames[0], True, np.float32)
        job.to = _graphs.TO_PLANE  # the boundary probability is the first channel
        return job

    def _post(self, result: np.ndarray, original, options: dict) -> np.ndarray:
        if not options["thin"]:
            return result
        if result.ndim == 3:
            return np.stack([_nms.thin_edges(p, options["threshold"]) for p in result])
        return _nms.thin_edges(result, options["threshold"])


_CLASSES = {cls.task: cls for cls in (DemosaicModel, UpscaleModel, EdgeModel)}


def load(name: str | None = None, *, task: str | None = None, providers=None, threads: int | None = None,
         tile=AUTO, strict: bool = False) -> Model:
    """Load a model by name, verified against its card's checksum; its session is created once and reused.

    Args:
        name: ``task/name`` as listed by :func:`list_models`; ``None`` with ``task`` picks the default.
        task: restrict the lookup to ``demosaic``, ``sr`` or ``edges``.
        providers: ``None`` (CUDA, then CPU, whichever onnxruntime offers) or a list such as ``["cpu"]``.
        threads: intra-op threads of onnxruntime, an integer >= 1 (``None``: onnxruntime's default).
        tile: ``"auto"`` (default): whole frames (and batches of frames) while one network call fits
            a memory budget of the model's device (half its free memory, see :mod:`imgadapt._budget`),
            larger frames in the largest equal tiles that fit; an integer: tiles of at most this many
            pixels a side; ``0`` or ``None``: whole frames at once. Every tile is read from the input,
            converted and written into the output on its own; results equal the untiled ones exactly.
        strict: ``True`` or ``False``: fail with :class:`ProviderError` instead of falling back to
            another provider.

    Integer options refuse bools, floats and strings (:class:`InputDtypeError`) and values out of
    range (:class:`InputValueError`); ``strict`` refuses anything but a bool.
    """
    return load_from(_registry, name, task=task, providers=providers, threads=threads, tile=tile, strict=strict)


def load_from(cards: Registry, name: str | None = None, *, task: str | None = None, **options) -> Model:
    """:func:`load` from ``cards`` rather than the installed models (tests and tools)."""
    card = cards.resolve(name, task)
    cls = _CLASSES.get(card["task"])
    if cls is None:
        raise UnknownNameError(f"model {card['name']!r} has unknown task {card['task']!r}")
    return cls(card, registry=cards, **options)


def default_upscaler(scale: int) -> str:
    """The default super-resolution model for ``scale``; :class:`UnknownNameError` names the scales offered."""
    reg = registry()
    offered = sorted({int(reg.cards[n].get("scale", 0)) for n in reg.list("sr")})
    if scale not in offered:
        raise UnknownNameError(f"scale: expected one of {offered or 'none installed'}, got {scale}")
    return reg.default("sr", where=lambda card: int(card.get("scale", 0)) == scale)["name"]


def default_name(task: str, scale: int | None = None) -> str:
    """The model used for ``task`` when none is named (for ``sr``, the one for ``scale``, 2 if ``None``)."""
    if task == "sr":
        return default_upscaler(scale or 2)
    return registry().default(task)["name"]


def check_model_arg(model, task: str) -> Model:
    """Accept a loaded :class:`Model` or a name (``None`` = the task's default)."""
    if isinstance(model, Model):
        if model.task != task:
            raise UnknownNameError(f"model {model.name!r} is a {model.task} model, expected a {task} model")
        return model
    if model is not None and not isinstance(model, str):
        raise InputDtypeError(f"model: expected a name, None or an imgadapt.Model, got {type(model).__name__}")
    return _loaded(model, task)


_loaded_models: dict = {}


def _loaded(name, task):
    key = (name, task)
    if key not in _loaded_models:
        _loaded_models[key] = load(name, task=task)
    return _loaded_models[key]
