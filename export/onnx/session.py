"""The one way the torch side opens an ONNX graph: an onnxruntime session on the CPU provider with
imgadapt's session options."""
from __future__ import annotations

from imgadapt.session import ort, session_options


def cpu_session(model_bytes: bytes, threads: int | None = 1, level: str = "extended"):
    """A CPU session of ``model_bytes`` with ``threads`` intra-op threads (``None``: onnxruntime's
    choice) and the graph optimisation ``level`` (``extended`` or ``all``)."""
    return ort().InferenceSession(model_bytes, session_options(threads, level), providers=["CPUExecutionProvider"])
