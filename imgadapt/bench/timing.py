"""The one timing loop of the benchmarks (and of the torch side's measurements): a warm-up call, then
the median of timed calls; several calls take turns in every round, so load on a shared machine
affects them alike."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(calls: dict[str, Callable[[], object]], repeats: int, warmup: bool = True) -> dict[str, float]:
    """Median seconds of each call over ``repeats`` rounds in which they take turns, after one warm-up
    call each (unless ``warmup`` is off because the caller has just run them)."""
    if warmup:
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for k, call in calls.items():
            start = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def median_seconds(call: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """:func:`interleaved` of one call."""
    return interleaved({"call": call}, repeats, warmup)["call"]
