"""onnxruntime sessions: provider choice (CUDA, then CPU), thread settings, one session per model.

The CUDA path is written for GPU serving and tested on a CPU-only machine by simulation: fake
sessions that start on the CPU when CUDA was asked for, fake loader errors, a fake CUDA runtime.
"""
from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import re
import sys
import threading

from .errors import InputValueError, ProviderError

log = logging.getLogger("imgadapt")

PROVIDER_ALIASES = {
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEFAULT_ORDER = ("CUDAExecutionProvider", "CPUExecutionProvider")

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"

_cache: dict = {}
_lock = threading.Lock()

# Process-wide state of the CUDA path (guarded by _notice_lock / _lock).
_notice_lock = threading.Lock()
_fallback_warned = False        # the one fallback warning of this process has been logged
_cuda_failure: str | None = None  # why CUDA could not start (a missing library): later sessions skip it
_preloaded = False              # onnxruntime.preload_dlls() has been considered
_preload_error: str | None = None


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
            list of provider names or aliases (``"cuda"``, ``"cpu"``). When none of the named providers
            is in this onnxruntime build (``["cuda"]`` with the CPU wheel), the CPU runs with the
            process's one fall-back warning, as when CUDA fails to start (:func:`get_session`).
        strict: raise :class:`ProviderError` if a requested provider (or, with ``requested=None``,
            CUDA) is not available, instead of falling back; the CPU is then left out of the list
            unless it was asked for alone, so :func:`get_session` refuses a CPU fall-back too.
        available: the available providers (defaults to onnxruntime's list; for tests).

    A name onnxruntime does not know at all (a typo) raises :class:`ProviderError`.
    """
    available = list(ort().get_available_providers() if available is None else available)
    missing = []
    if requested is None:
        wanted = list(DEFAULT_ORDER)
        if strict and CUDA not in available:
            raise ProviderError(f"strict GPU mode: {CUDA} is not available (available: {', '.join(available)}); "
                                f"{_INSTALL}")
    else:
        if isinstance(requested, str):
            requested = [requested]
        wanted = [PROVIDER_ALIASES.get(str(p).lower(), p) for p in requested]
        known = set(available) | set(getattr(ort(), "get_all_providers", lambda: available)())
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise ProviderError(f"unknown execution provider(s) {', '.join(map(str, unknown))}; expected "
                                f"{', '.join(PROVIDER_ALIASES)} or an onnxruntime provider name")
        missing = [p for p in wanted if p not in available]
        if missing and (strict or CPU not in available and len(missing) == len(wanted)):
            raise ProviderError(f"execution provider(s) {', '.join(missing)} not available "
                                f"(available: {', '.join(available)})" + (f"; {_INSTALL}" if CUDA in missing else ""))
    if strict:
        return [p for p in wanted if p in available and p != CPU] or [CPU]
    chosen = [p for p in wanted if p in available]
    if CPU in available and CPU not in chosen:
        chosen.append(CPU)
    if missing and chosen[0] not in wanted:  # e.g. ["cuda"] with the CPU wheel; ["cuda", "cpu"] named its fall-back
        _fallback_notice(f"{', '.join(missing)} not available in this onnxruntime build (available: "
                         f"{', '.join(available)}); running on {chosen[0]} instead. {_INSTALL_HINT}")
    return chosen


# CUDA provider options (onnxruntime's CUDAExecutionProvider keys). Arena growth by request keeps memory
# near what a model needs when several models share the GPU; the heuristic cuDNN search avoids the slow
# exhaustive benchmark on the first run of every new input size (images vary in size); the default
# stream is shared so chained models hand tensors over without cross-stream synchronisation.
# use_tf32=0: onnxruntime lets cuDNN convolutions (and cuBLAS MatMul/Gemm) run float32 in TF32 by default,
# which keeps only 10 mantissa bits of every product on Ampere and later GPUs. That made
# demosaic/pafu-net differ from the CPU by up to 14 grey levels (a PAFU selector's argmax flips on
# near-ties, and a different kernel is then applied) and made tiled and untiled CUDA results differ
# (TF32 rounding depends on the algorithm cuDNN picks, which can differ per tile shape). imgadapt
# promises GPU = CPU within one output level and tiled = untiled on every provider, so TF32 is off.
# The option exists since onnxruntime 1.18 (the gpu extra needs 1.21). It applies to the classic NCHW
# cuDNN path only: the cuDNN-frontend path behind prefer_nhwc / fuse_conv_bias ignores it (there only
# the environment variable NVIDIA_TF32_OVERRIDE=0 does), so those options stay unset here.
# Written for GPU serving; on this project's CPU-only machine it is tested as the argument that
# reaches onnxruntime.InferenceSession, not on a GPU.
CUDA_OPTIONS = {
    "device_id": 0,
    "arena_extend_strategy": "kSameAsRequested",
    "cudnn_conv_algo_search": "HEURISTIC",
    "do_copy_in_default_stream": True,
    "use_tf32": 0,
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


_INSTALL = ('for CUDA install "imgadapt[gpu]" (onnxruntime-gpu with the NVIDIA CUDA and cuDNN libraries as pip '
            'packages) and restart the process')
_INSTALL_HINT = f"{_INSTALL[0].upper()}{_INSTALL[1:]}; strict=True makes this an error instead."

# The provider libraries onnxruntime loads at session creation, by provider.
_PROVIDER_LIBRARIES = {CUDA: "onnxruntime_providers_cuda",
                       "TensorrtExecutionProvider": "onnxruntime_providers_tensorrt"}
# A dynamic loader's words for a missing dependency: glibc's dlopen, and onnxruntime's on Windows.
_MISSING_LIBRARY = (re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file"),
                    re.compile(r'depends on "([^"]+)" which is missing'))
# Words in a session-creation error that make it the provider's failure rather than the model's.
_PROVIDER_WORDS = ("cuda", "cudnn", "cublas", "tensorrt", "provider", "shared object", ".dll", "driver")


def _fallback_notice(message: str) -> None:
    """Log a fall-back to another provider: a warning the first time in this process, INFO after that
    (one warning per process, not one per model or tile)."""
    global _fallback_warned
    with _notice_lock:
        first, _fallback_warned = not _fallback_warned, True
    if first:
        log.warning("imgadapt: %s", message)
    else:
        log.info("imgadapt: %s", message)


def _nvidia_wheels_present() -> bool:
    """Whether NVIDIA's CUDA/cuDNN libraries are installed as pip packages (``nvidia-*``: the
    ``nvidia`` namespace package with cudnn, cublas, cuda_runtime, or CUDA 13's cu13 folder)."""
    for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime", "nvidia.cu13"):
        try:
            if importlib.util.find_spec(name) is not None:
                return True
        except (ImportError, ValueError):
            continue
    return False


def _preload_nvidia_libraries() -> None:
    """Once per process, before the first CUDA session: when the NVIDIA libraries come from pip, load
    them with ``onnxruntime.preload_dlls()`` (onnxruntime-gpu 1.21+), since the system loader does not
    search site-packages. A missing function is skipped; a failure is logged (INFO) and kept for the
    fall-back message, never raised."""
    global _preloaded, _preload_error
    if _preloaded:
        return
    _preloaded = True
    preload = getattr(ort(), "preload_dlls", None)
    if preload is None or not _nvidia_wheels_present():
        return
    try:
        preload()
    except Exception as exc:  # noqa: BLE001 - any failure here only costs the CUDA provider
        _preload_error = f"onnxruntime.preload_dlls() failed: {type(exc).__name__}: {exc}"
        log.info("imgadapt: %s", _preload_error)
    else:
        log.info("imgadapt: loaded the pip-installed NVIDIA libraries with onnxruntime.preload_dlls()")


def _probe_provider_library(provider: str) -> str | None:
    """Load ``provider``'s shared library from the onnxruntime package as onnxruntime does, only after
    that provider failed to start, to read the loader's error (which names the first missing
    dependency). ``None`` when there is no such library or it loads."""
    stem = _PROVIDER_LIBRARIES.get(provider)
    if stem is None:
        return None
    package = getattr(ort(), "__file__", None)
    name = f"{stem}.dll" if sys.platform == "win32" else f"lib{stem}.so"
    path = os.path.join(os.path.dirname(os.path.abspath(package)), "capi", name) if package else ""
    if not os.path.exists(path):
        return None
    try:
        ctypes.CDLL(path)
    except OSError as exc:
        return str(exc)
    return None


def missing_library(text: str) -> str | None:
    """The library a loader error names as missing (``libcublasLt.so.13``), or ``None``.

    Example:
        >>> missing_library("Failed to load library libonnxruntime_providers_cuda.so with error: "
        ...                 "libcublasLt.so.13: cannot open shared object file: No such file or directory")
        'libcublasLt.so.13'
    """
    for pattern in _MISSING_LIBRARY:
        found = pattern.search(text or "")
        if found:
            return found.group(1)
    return None


def _failure_reason(provider: str, error: str | None) -> tuple[str, bool]:
    """Why ``provider`` did not start, from onnxruntime's error or (when onnxruntime fell back to the CPU
    without one, having only logged the cause) from loading its library; and whether a library is missing."""
    probe = None if error else _probe_provider_library(provider)
    library = missing_library(error or probe or "")
    if library:
        reason = f"{library} is missing" + (" (cannot open shared object file)" if ".so" in library else "")
    elif error or probe:
        reason = " ".join((error or f"loading its library fails: {probe}").split())[:400]
    else:
        reason = ("onnxruntime ran the session on the CPU without an error (no NVIDIA driver or GPU?); "
                  "onnxruntime's own log says why")
    if _preload_error and provider == CUDA:
        reason += f"; {_preload_error}"
    return reason, library is not None


def _create_session(key, model_bytes_fn, providers: list[str], threads, optimization, strict: bool):
    global _cuda_failure
    first = providers[0]
    if CUDA in providers:
        _preload_nvidia_libraries()
    if first == CUDA and _cuda_failure is not None:
        # CUDA already failed in this process for want of a library: the loader will not find it now either.
        if strict:
            raise ProviderError(f"{CUDA} failed to start for {key}: {_cuda_failure}; strict=True does not fall "
                                f"back to the CPU; {_INSTALL}")
        providers = [p for p in providers if p != CUDA]
        log.info("imgadapt: %s skips %s (%s)", key, CUDA, _cuda_failure)
        first = providers[0]

    def create(names):
        return ort().InferenceSession(model_bytes_fn(), session_options(threads, optimization),
                                      providers=provider_entries(names))

    error = None
    try:
        session = create(providers)
    except Exception as exc:
        # onnxruntime raises (rather than logging and falling back) for some provider failures: no
        # device, an unsupported driver, a library that fails to load on some platforms.
        if first == CPU or not any(word in str(exc).lower() for word in _PROVIDER_WORDS):
            raise
        session, error = None, exc
    running = session.get_providers()[0] if session is not None else None
    if running != first:
        reason, library_missing = _failure_reason(first, None if error is None else str(error))
        if first == CUDA and library_missing:
            _cuda_failure = reason
        if strict:
            raise ProviderError(f"{first} failed to start for {key}: {reason}; strict=True does not fall back "
                                f"to {running or CPU}; {_INSTALL}") from error
        if session is None:
            session = create([p for p in providers if p != first] or [CPU])
        _fallback_notice(f"{first} failed to start: {reason}; running on {session.get_providers()[0]} instead. "
                         f"{_INSTALL_HINT}")
    log.info("imgadapt: %s runs on %s", key, session.get_providers()[0])
    return session


def get_session(key: str, model_bytes_fn, providers: list[str], threads: int | None,
                optimization: str = "extended", *, strict: bool | None = None):
    """The cached session for (key, providers, threads, optimization), creating it on first use.

    When the first provider does not start (onnxruntime-gpu installed without the CUDA libraries:
    onnxruntime either raises or logs the failure and silently runs on the CPU), the session falls back
    to the next provider with one warning per process naming what is missing; with ``strict`` it
    raises :class:`ProviderError` saying the same. ``strict=None`` means strict when ``providers``
    leave out the CPU, as :func:`choose_providers` does for ``strict=True``. Before the first CUDA
    session, pip-installed NVIDIA libraries are loaded (:func:`onnxruntime.preload_dlls`).
    """
    if strict is None:
        strict = CPU not in providers
    cache_key = (key, tuple(providers), threads, optimization, strict)
    with _lock:
        session = _cache.get(cache_key)
        if session is None:
            session = _create_session(key, model_bytes_fn, list(providers), threads, optimization, strict)
            _cache[cache_key] = session
    return session


# Names of the CUDA runtime library, newest first (the one onnxruntime already loaded is preferred).
_CUDART_NAMES = (("cudart64_13.dll", "cudart64_12.dll", "cudart64_110.dll") if sys.platform == "win32" else
                 ("libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"))
_cudart_handle = None


def _cudart():
    """The CUDA runtime library through ctypes, or ``None``: first one already in the process (loaded by
    onnxruntime's CUDA provider or by preload_dlls), else the newest the loader finds."""
    global _cudart_handle
    if _cudart_handle is None:
        _cudart_handle = False
        modes = ([os.RTLD_NOLOAD | os.RTLD_LOCAL] if hasattr(os, "RTLD_NOLOAD") else []) + [ctypes.DEFAULT_MODE]
        for mode in modes:
            for name in _CUDART_NAMES:
                try:
                    _cudart_handle = ctypes.CDLL(name, mode=mode)
                    break
                except OSError:
                    continue
            if _cudart_handle:
                break
    return _cudart_handle or None


def device_free_bytes(session_or_device_id) -> int | None:
    """Free memory in bytes of a CUDA device, for a tile policy (whole frames on CUDA while they fit a
    budget taken from this), or ``None`` when unknown.

    Args:
        session_or_device_id: an onnxruntime session (its CUDA device; ``None`` when it does not run on
            CUDA) or a CUDA device number >= 0.

    onnxruntime has no API for this; it asks the CUDA runtime (``cudaMemGetInfo`` through ctypes on the
    process's libcudart, restoring the thread's current device). ``None`` without a CUDA runtime, a
    driver or the device. Memory held by onnxruntime's arenas counts as used, so the figure is a lower
    bound of what a session can still get.
    """
    source = session_or_device_id
    if (isinstance(source, bool) or (isinstance(source, int) and source < 0)
            or not isinstance(source, int) and not hasattr(source, "get_providers")):
        raise InputValueError(f"device_free_bytes: expected a session or a device number >= 0, got {source!r}")
    if isinstance(source, int):
        device = source
    else:
        if source.get_providers()[0] != CUDA:
            return None
        device = int(source.get_provider_options().get(CUDA, {}).get("device_id", 0))
    lib = _cudart()
    if lib is None:
        return None
    free, total, previous = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_int()
    try:
        if lib.cudaGetDevice(ctypes.byref(previous)) != 0 or lib.cudaSetDevice(device) != 0:
            return None
        try:
            status = lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total))
        finally:
            lib.cudaSetDevice(previous.value)
    except (AttributeError, OSError):
        return None
    return int(free.value) if status == 0 else None


def clear_cache() -> None:
    """Drop every cached session (frees their memory) and forget a CUDA start failure, so the next
    session tries CUDA again (the one fall-back warning of the process stays logged once)."""
    global _cuda_failure
    with _lock:
        _cache.clear()
        _cuda_failure = None
