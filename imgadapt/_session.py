"""onnxruntime sessions: provider choice (CUDA, then CPU), thread settings, one session per model."""
from __future__ import annotations

import logging
import threading

from ._errors import InputValueError, ProviderError

log = logging.getLogger("imgadapt")

PROVIDER_ALIASES = {
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEFAULT_ORDER = ("CUDAExecutionProvider", "CPUExecutionProvider")

_cache: dict = {}
_lock = threading.Lock()


def ort():
    """Import onnxruntime lazily, with an install hint when it is missing."""
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('imgadapt needs onnxruntime: pip install "imgadapt[cpu]" '
                          '(or "imgadapt[gpu]" for CUDA; never both)') from exc
    return onnxruntime


def choose_providers(requested=None, strict: bool = False, available=None) -> list[str]:
    """Resolve the execution providers to use.

    Args:
        requested: ``None`` for the default order (CUDA, then CPU, whichever are available), or a
            list of provider names or aliases (``"cuda"``, ``"cpu"``).
        strict: raise :class:`ProviderError` if a requested provider (or, with ``requested=None``,
            CUDA) is not available, instead of falling back.
        available: the available providers (defaults to onnxruntime's list; for tests).
    """
    available = list(ort().get_available_providers() if available is None else available)
    if requested is None:
        wanted = list(DEFAULT_ORDER)
        if strict and "CUDAExecutionProvider" not in available:
            raise ProviderError("strict GPU mode: CUDAExecutionProvider is not available "
                                f"(available: {', '.join(available)}); install imgadapt[gpu] on a CUDA machine")
    else:
        if isinstance(requested, str):
            requested = [requested]
        wanted = [PROVIDER_ALIASES.get(str(p).lower(), p) for p in requested]
        missing = [p for p in wanted if p not in available]
        if missing and (strict or len(missing) == len(wanted)):
            raise ProviderError(f"execution provider(s) {', '.join(missing)} not available "
                                f"(available: {', '.join(available)})")
    if strict:
        return [p for p in wanted if p in available and p != "CPUExecutionProvider"] or ["CPUExecutionProvider"]
    chosen = [p for p in wanted if p in available]
    if "CPUExecutionProvider" in available and "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


# CUDA provider options (onnxruntime's CUDAExecutionProvider keys). Arena growth by request keeps memory
# near what a model needs when several models share the GPU; the heuristic cuDNN search avoids the slow
# exhaustive benchmark on the first run of every new input size (images vary in size); the default
# stream is shared so chained models hand tensors over without cross-stream synchronisation.
# Written for GPU serving and tested only as data on this project's CPU-only machine: never run on a GPU here.
CUDA_OPTIONS = {
    "device_id": 0,
    "arena_extend_strategy": "kSameAsRequested",
    "cudnn_conv_algo_search": "HEURISTIC",
    "do_copy_in_default_stream": True,
}


def provider_entries(providers: list[str], device_id: int = 0, cuda_options: dict | None = None) -> list:
    """The ``providers`` argument of ``onnxruntime.InferenceSession`` for resolved provider names:
    CUDA as ``(name, options)`` with :data:`CUDA_OPTIONS` (``device_id`` and ``cuda_options`` override
    them), every other provider by name. Tested with provider lists only: no GPU session has been
    created with these options on this project's CPU-only machine.

    Example:
        >>> provider_entries(["CUDAExecutionProvider", "CPUExecutionProvider"], device_id=1)[0][1]["device_id"]
        1
    """
    if isinstance(device_id, bool) or not isinstance(device_id, int) or device_id < 0:
        raise InputValueError(f"device_id: expected an integer >= 0, got {device_id!r}")
    options = {**CUDA_OPTIONS, "device_id": device_id, **(cuda_options or {})}
    return [("CUDAExecutionProvider", options) if p == "CUDAExecutionProvider" else p for p in providers]


GRAPH_OPTIMIZATIONS = ("extended", "all")


def session_options(threads: int | None, optimization: str = "extended"):
    """Session options: ``threads`` intra-op threads (``None``: onnxruntime's choice) and the
    graph optimisation level, ``extended`` or ``all`` (which adds the NCHWc layout pass; a model
    card names the one measured faster for that model, as the pass's reorders can cost more than
    they save on few-channel graphs)."""
    opts = ort().SessionOptions()
    if threads is not None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise InputValueError(f"threads: expected a positive integer, got {threads!r}")
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if optimization not in GRAPH_OPTIMIZATIONS:
        raise InputValueError(f"graph optimisation: expected one of {GRAPH_OPTIMIZATIONS}, got {optimization!r}")
    level = ort().GraphOptimizationLevel
    opts.graph_optimization_level = level.ORT_ENABLE_ALL if optimization == "all" else level.ORT_ENABLE_EXTENDED
    return opts


def get_session(key: str, model_bytes_fn, providers: list[str], threads: int | None,
                optimization: str = "extended"):
    """The cached session for (key, providers, threads, optimization), creating it on first use."""
    cache_key = (key, tuple(providers), threads, optimization)
    with _lock:
        session = _cache.get(cache_key)
        if session is None:
            session = ort().InferenceSession(model_bytes_fn(), session_options(threads, optimization),
                                             providers=provider_entries(providers))
            if session.get_providers()[0] != providers[0]:
                raise ProviderError(f"{providers[0]} failed to start for {key}; onnxruntime chose "
                                    f"{session.get_providers()[0]}")
            log.info("imgadapt: %s runs on %s", key, session.get_providers()[0])
            _cache[cache_key] = session
    return session


def clear_cache() -> None:
    """Drop every cached session (frees their memory)."""
    with _lock:
        _cache.clear()
