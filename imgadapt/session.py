"""onnxruntime sessions as imgadapt makes them, for tools that build, verify or time graphs of their
own (the torch side's export): the onnxruntime module, imgadapt's session options, and the stage
timings of the chained calls a model makes on CUDA."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._chain import Chain
from ._session import GRAPH_OPTIMIZATIONS, ort, session_options

__all__ = ["GRAPH_OPTIMIZATIONS", "ort", "session_options", "chain_stage_timings"]


@contextmanager
def chain_stage_timings() -> Iterator[list[dict]]:
    """A list that collects, for every chained call made inside the block, the seconds of each stage
    (upload, pre graph, model, post graph, copy to the host), each stage synchronised before the next:
    a diagnostic, slower than a normal call. Calls on the CPU provider do not chain and add nothing."""
    Chain.stage_seconds = []
    try:
        yield Chain.stage_seconds
    finally:
        Chain.stage_seconds = None
