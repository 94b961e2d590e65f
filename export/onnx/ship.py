"""Shipping a trained model: checkpoint, verified ONNX export and model card in ``models/``."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from .convert import OPSET, to_onnx_bytes
from .session import cpu_session

log = logging.getLogger("imgadapt.train")
ONNX_TOLERANCE = 1e-4


def count_params(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def verify_onnx(model: torch.nn.Module, onnx_bytes: bytes, inputs: list[torch.Tensor],
                tolerance: float = ONNX_TOLERANCE) -> float:
    """Largest |onnxruntime - torch| over ``inputs`` (CPU onnxruntime, one session).

    Raises:
        ExportVerificationError: when an output's shape differs or the difference exceeds ``tolerance``.
    """
    from imgadapt.errors import ExportVerificationError

    model.eval()
    session = cpu_session(onnx_bytes, level="all")
    name = session.get_inputs()[0].name
    worst = 0.0
    for x in inputs:
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {name: x.numpy()})[0]
        if got.shape != expected.shape:
            raise ExportVerificationError(f"ONNX output for input {tuple(x.shape)}: expected shape "
                                          f"{expected.shape} (torch), got {got.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
        if not worst <= tolerance:
            raise ExportVerificationError(f"ONNX output for input {tuple(x.shape)}: expected |onnxruntime - torch| "
                                          f"<= {tolerance:g}, got {worst:.3g}")
    return worst


def faster_graph_optimization(onnx_bytes: bytes, channels: int, size: int = 768, runs: int = 7) -> dict:
    """Time the model under both onnxruntime graph optimisation levels the runtime offers (same run,
    median of ``runs`` after warm-up, on a ``size`` x ``size`` input) and name the faster one."""
    from imgadapt.bench.timing import interleaved
    from imgadapt.session import GRAPH_OPTIMIZATIONS

    x = np.random.default_rng(0).random((1, channels, size, size), dtype=np.float32)
    sessions = {level: cpu_session(onnx_bytes, None, level) for level in GRAPH_OPTIMIZATIONS}
    calls = {level: (lambda s=s: s.run(None, {s.get_inputs()[0].name: x})) for level, s in sessions.items()}
    times = {level: round(seconds * 1000, 2) for level, seconds in interleaved(calls, runs).items()}
    return {"graph_optimization": min(times, key=times.get), "measured_ms": times,
            "measured_on": [1, channels, size, size]}


def ship(model: torch.nn.Module, card: dict, out_dir: Path, example: torch.Tensor,
         checks: list[torch.Tensor], arch_config: dict, onnx_model: torch.nn.Module | None = None) -> dict:
    """Write ``NAME.pt``, ``NAME.onnx`` and ``NAME.json`` under ``out_dir`` (NAME is ``task/name``).

    The checkpoint holds ``model`` as trained; the ONNX graph is ``onnx_model`` when given (an
    inference-optimised copy), verified against it.
    """
    name = card["name"]
    base = Path(out_dir) / name
    base.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    onnx_model = (onnx_model or model).eval()
    onnx_bytes = to_onnx_bytes(onnx_model, example)
    worst = verify_onnx(onnx_model, onnx_bytes, checks)
    torch.save({"arch": card["arch"], "config": arch_config, "state_dict": model.state_dict()},
               base.with_suffix(".pt"))
    base.with_suffix(".onnx").write_bytes(onnx_bytes)
    card = dict(card, params=count_params(model), opset=OPSET,
                onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
                verification={"max_abs_diff": worst, "tolerance": ONNX_TOLERANCE,
                              "inputs": [list(x.shape) for x in checks]},
                runtime=faster_graph_optimization(onnx_bytes, example.shape[1]))
    write_card(base.with_suffix(".json"), card)
    log.info("wrote %s.{pt,onnx,json} (max |onnx - torch| = %.2g)", base, worst)
    return card


def write_card(path: Path, card: dict) -> None:
    Path(path).write_text(json.dumps(card, indent=2) + "\n")
