"""Peak memory of one method, measured in a fresh Python process.

``tracemalloc`` sees only the allocations numpy makes through Python's allocator; onnxruntime's
arena, OpenCV's buffers and LibRaw's allocations escape it. So the figure here is the operating
system's: the **resident-set high-water mark** of a process that runs nothing but the one method.

In the child (``python -m imgadapt.bench.child``, a JSON spec on stdin, a JSON result on stdout):

1. the inputs are prepared and the method is built (model session created) by
   :func:`imgadapt.bench.suite.prepare`;
2. free heap memory is handed back to the system (``malloc_trim``; the child also runs with a fixed
   glibc mmap threshold, ``MALLOC_MMAP_THRESHOLD_``, so large arrays are mapped and unmapped rather
   than recycled from pages that are already resident and would not count), and the high-water mark
   is reset to the current resident size (Linux: ``/proc/self/clear_refs``, then ``VmHWM`` of
   ``/proc/self/status``); that size is the baseline;
3. the method processes the inputs one by one (each output dropped before the next call);
4. ``peak_mb`` = high-water mark - baseline: the most memory the calls needed on top of what the
   process held before (interpreter, libraries, model, input data), the output included;
   ``process_peak_mb`` is the high-water mark itself.

Where the mark cannot be reset (not Linux), the baseline is the mark before the calls
(``resource.getrusage``), which can only understate ``peak_mb`` if preparing the inputs took more
memory than the calls; ``memory_how`` in the result says which was used.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def _rusage_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, kB elsewhere


def high_water_mb() -> float | None:
    """The process's resident-set high-water mark in MiB (``None`` where the OS does not say)."""
    value = _status_mb("VmHWM")
    return value if value is not None else _rusage_mb()


def reset_high_water() -> float | None:
    """Reset the high-water mark to the current resident size and return that size in MiB, or
    ``None`` where this is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def _trim_heap() -> None:
    """Return free heap memory to the system (glibc ``malloc_trim``; nothing elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def profile(inputs: list, call, megapixels: float, repeats: int = 0) -> dict:
    """Peak memory of ``call`` over ``inputs`` (one by one) and, with ``repeats``, its throughput.

    Returns:
        ``peak_mb``, ``process_peak_mb``, ``io_mb`` (largest input + its output), ``memory_how``, and
        with ``repeats`` ``mp_s`` (the memory pass serving as warm-up; median of ``repeats`` passes).
    """
    from .evaluate import throughput

    gc.collect()
    _trim_heap()
    base = reset_high_water()
    how = "VmHWM reset before the calls (Linux)"
    if base is None:
        base, how = high_water_mb(), "ru_maxrss before the calls (not reset: may understate)"
    io_mb = 0.0
    for x in inputs:
        out = call(x)
        io_mb = max(io_mb, (x.nbytes + getattr(out, "nbytes", 0)) / 2**20)
        del out
    peak = high_water_mb()
    result = {"memory_how": how, "io_mb": round(io_mb, 3), "megapixels": round(megapixels, 4),
              "peak_mb": None if peak is None or base is None else round(max(peak - base, 0.0), 1),
              "process_peak_mb": None if peak is None else round(peak, 1)}
    if repeats:
        result["mp_s"] = round(throughput(lambda: [call(x) for x in inputs], megapixels, repeats, warmup=False), 3)
    return result


def measure(spec: dict, timeout: float | None = None) -> dict:
    """Run :func:`profile` for ``spec`` (see :func:`imgadapt.bench.suite.prepare`) in a fresh process that
    imports this copy of imgadapt and sees the same model directories.

    Raises:
        RuntimeError: the child failed; the message carries the end of its error output.
    """
    from .._model import registry
    from .._registry import ENV_MODEL_PATH

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env[ENV_MODEL_PATH] = os.pathsep.join(str(d) for d in registry().dirs)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))  # large arrays: mapped, unmapped when freed
    proc = subprocess.run([sys.executable, "-m", "imgadapt.bench.child"], input=json.dumps(spec),
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"memory measurement of {spec.get('method')!r} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
