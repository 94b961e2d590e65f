"""Export a torch module to ONNX in memory and compare onnxruntime with torch."""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch

from .session import cpu_session

OPSET = 17


def to_onnx_bytes(module: torch.nn.Module, example: torch.Tensor, dynamic_hw: bool = True,
                  opset: int = OPSET) -> bytes:
    """Serialise ``module`` (in eval mode) to ONNX with input ``x`` and output ``y``.

    Args:
        module: the module to export; exported as it is in eval mode.
        example: a float32 ``(N, C, H, W)`` tensor used to trace the graph.
        dynamic_hw: make batch, height and width dynamic axes.
        opset: ONNX opset version.

    Returns:
        The ONNX model as bytes.
    """
    was_training = module.training
    module.eval()
    axes = {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "oh", 3: "ow"}} if dynamic_hw else None
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), buf, input_names=["x"], output_names=["y"],
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
    finally:
        module.train(was_training)
    return buf.getvalue()


def run_onnx(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Run an ONNX model with a single input on the CPU provider."""
    session = cpu_session(model_bytes, level="all")
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def onnx_max_abs_diff(module: torch.nn.Module, example: torch.Tensor,
                      check: torch.Tensor | None = None) -> float:
    """Largest absolute difference between torch and onnxruntime outputs.

    The graph is traced on ``example`` and evaluated on ``check`` (defaults to ``example``),
    so passing a ``check`` of another size also exercises the dynamic height and width.
    """
    check = example if check is None else check
    model_bytes = to_onnx_bytes(module, example.float())
    module.eval()
    with torch.no_grad():
        expected = module(check.float()).numpy()
    got = run_onnx(model_bytes, check.float().numpy())
    if got.shape != expected.shape:
        raise AssertionError(f"onnx output shape {got.shape} != torch {expected.shape}")
    return float(np.abs(got - expected).max())
