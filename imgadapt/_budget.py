"""How much of a frame one model call may take: a memory estimate per pixel and the tile policy.

A model called on a whole frame is faster than the same model called tile by tile (on this
project's 2-core CPU, 1024-px tiles cost onnxruntime 12-40 % more time than one whole-frame call,
and a GPU wants large calls to be busy), but its working memory grows with the frame. The default
policy (``tile="auto"`` in :func:`imgadapt.load`) therefore runs whole frames (and batches of
frames) while one call fits a memory budget of the model's device and cuts larger frames into the
largest equal tiles that fit:

- CUDA: :data:`CUDA_FRACTION` of the device's free memory, as ``_session.device_free_bytes`` reports it;
- CPU: :data:`HOST_FRACTION` of the memory the operating system reports available;
- when the free memory is unknown: tiles of :data:`FALLBACK_TILE` pixels (what imgadapt did before).

The memory a call needs is estimated from the model graph itself (:func:`floats_per_pixel`: the
largest sum of tensors alive at once, walking the nodes in order and freeing each tensor after its
last use, as onnxruntime's planner does), times :data:`ARENA_FACTOR`, plus imgadapt's own buffers
(float input and output, the finished output). For the 18 shipped models the estimate lies within
0.62 and 1.31 times the peak measured on the CPU (resident-set high-water mark of a whole 2-MP
call: 32 to 200 floats per pixel); the fractions leave room for that.
"""
from __future__ import annotations

import math
import os

from . import _onnx_proto

FALLBACK_TILE = 1024
CUDA_FRACTION = 0.5
HOST_FRACTION = 0.4
ARENA_FACTOR = 1.0
MIN_TILE = 128
#: the most input pixels one call of a batch takes: more frames per call gain nothing once calls are this large
MAX_CALL_PIXELS = 8_000_000


def _shape_ops() -> set[str]:
    return {"Shape", "Size", "Constant", "ConstantOfShape", "NonZero"}


def floats_per_pixel(model_bytes: bytes, in_channels: int) -> float:
    """The peak of float32 values held at once by a model per input pixel, from its graph.

    Each tensor is tracked as ``(size, area)``: values per input pixel and its spatial area
    relative to the input (a stride-2 convolution quarters the area, a depth-to-space or a
    stride-2 transposed convolution multiplies it). Shape arithmetic and constants count as nothing;
    an operator the estimate does not know takes its largest input's size (elementwise).
    """
    g = _onnx_proto.read_model(model_bytes)
    const = set(g.initializers)
    weights = dict(g.initializers)
    for n in g.nodes:
        if n.op_type == "Constant" and isinstance(n.attrs.get("value"), list):
            weights[n.outputs[0]] = n.attrs["value"]
    info: dict[str, tuple[float, float]] = {}
    for name in g.inputs:
        if name not in const:
            info[name] = (float(in_channels), 1.0)

    def of(name):
        return info.get(name, (0.0, 1.0))

    def outer(graph) -> set[str]:
        names = set()
        for n in graph.nodes:
            names.update(n.inputs)
            for sub in n.subgraphs:
                names |= outer(sub)
        return names

    uses: dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        for name in list(n.inputs) + [x for sub in n.subgraphs for x in outer(sub)]:
            if name:
                uses[name] = i
    live = {name: of(name)[0] for name in info}
    producer: dict[str, str] = {}
    peak = sum(live.values())
    for i, n in enumerate(g.nodes):
        ins = [of(x) for x in n.inputs if x and x not in const]
        work = 0.0
        biggest = max(ins, key=lambda t: t[0], default=(0.0, 1.0))
        size, area = biggest
        op = n.op_type
        if op in _shape_ops():
            size = 0.0
        elif op in ("Conv", "ConvTranspose") and n.inputs:
            size, area = of(n.inputs[0])
            step = float(math.prod(n.attrs.get("strides") or [1, 1]))
            w = weights.get(n.inputs[1]) if len(n.inputs) > 1 else None
            group = int(n.attrs.get("group") or 1)
            area = area / step if op == "Conv" else area * step
            if w and len(w) >= 2:
                c_in, c_out = (w[1] * group, w[0]) if op == "Conv" else (w[0], w[1] * group)
                # a Reshape before a convolution may fold channels into the batch axis
                fold = max(1.0, size / (area * step if op == "Conv" else area / step) / c_in) \
                    if producer.get(n.inputs[0]) == "Reshape" and c_in else 1.0
                size = c_out * area * fold
                if op == "ConvTranspose" and len(w) >= 4:
                    # onnxruntime's CPU kernel fills a column buffer of every kernel tap before col2im
                    work = c_out / group * w[2] * w[3] * (area / step) * fold
            else:
                size = size / step if op == "Conv" else size * step
        elif op in ("DepthToSpace", "SpaceToDepth"):
            b = float(n.attrs.get("blocksize") or 1) ** 2
            area = area * b if op == "DepthToSpace" else area / b
        elif op == "Concat":
            size = sum(t[0] for t in ins)
        elif op in ("ArgMax", "ArgMin"):
            size = 2.0 * area  # one int64 per position
        elif op == "Expand":
            size, area = of(n.inputs[0])
        elif op == "If":
            size = max((of(x)[0] for sub in n.subgraphs for x in outer(sub)), default=0.0)
        elif op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
            # a comparison broadcast against constants of several values makes a one-hot: (1, 8, 1, 1, 1) x 8
            for x in n.inputs:
                dims = weights.get(x)
                if x in const and dims and len(dims) >= 3:
                    size = max(size, float(math.prod(dims[:-2])) * area)
        for name in n.outputs:
            producer[name] = op
            info[name] = (size, area)
            live[name] = size
        peak = max(peak, sum(live.values()) + work)
        for name in list(live):
            if uses.get(name, -1) <= i and name not in g.outputs:
                del live[name]
    return peak


def host_available_bytes() -> int | None:
    """Memory the operating system can give this process now (Linux ``MemAvailable``; else free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def device_free_bytes(device: str, device_id: int = 0) -> int | None:
    """Free memory of the device a model runs on (``"cpu"`` or ``"cuda"``), or ``None`` when unknown.

    CUDA asks ``_session.device_free_bytes`` (``None`` while onnxruntime cannot tell); the CPU asks the
    operating system. Tests replace this function.
    """
    if device != "cuda":
        return host_available_bytes()
    from . import _session

    query = getattr(_session, "device_free_bytes", None)
    if query is None:
        return None
    try:
        return query(device_id)
    except Exception:  # noqa: BLE001 - an unknown free size falls back to fixed tiles
        return None


def budget_bytes(device: str, device_id: int = 0) -> int | None:
    """The memory one model call may use on ``device``: a fraction of its free memory, or ``None``."""
    free = device_free_bytes(device, device_id)
    if free is None or free <= 0:
        return None
    return int(free * (CUDA_FRACTION if device == "cuda" else HOST_FRACTION))


def auto_tile(budget: int | None, bytes_per_pixel: float, halo: int, multiple: int, shape: tuple[int, int],
              frames: int = 1) -> tuple[int, int]:
    """``(tile, frames per call)`` for ``frames`` frames whose extended size (halo and alignment
    included) is ``shape``, under ``budget`` bytes.

    ``tile == 0`` means whole frames; then as many frames per call as the budget holds (at least
    one, at most :data:`MAX_CALL_PIXELS` pixels). A frame over the budget is cut into the largest
    tiles (a multiple of ``multiple``, at least :data:`MIN_TILE`) whose window, ``halo`` on each side
    included, fits; one frame per call. ``budget=None`` gives :data:`FALLBACK_TILE` tiles.
    """
    if budget is None:
        return FALLBACK_TILE, 1
    pixels = shape[0] * shape[1]
    if pixels * bytes_per_pixel <= budget:
        return 0, max(1, min(frames, int(budget // (pixels * bytes_per_pixel)), MAX_CALL_PIXELS // pixels))
    side = int(math.sqrt(budget / bytes_per_pixel)) - 2 * halo
    return max(MIN_TILE, side // multiple * multiple), 1
