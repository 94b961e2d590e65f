"""ONNX graph passes and measurements of the export tool: simplification, metadata, fp16, statistics.

Everything here works on serialised ONNX models (``bytes``) and uses only onnx and onnxruntime,
which the ``train`` extra installs: simplification is onnxruntime's own offline optimisation at
the *basic* level (constant folding, removal of redundant nodes, Conv+Add/Mul/BatchNormalization
fusion: the provider-independent rewrites, so the result runs on CPU and CUDA alike), and fp16 is
onnxruntime's bundled copy of the onnxconverter-common float16 converter.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter

import numpy as np
import torch
from torch import nn

from imgadapt.bench.timing import interleaved

from .session import cpu_session

CONV_OPS = ("Conv", "ConvTranspose")
METADATA_KEY = "imgadapt.optimizations"


def _onnx():
    import onnx

    return onnx


def simplify(model_bytes: bytes) -> bytes:
    """Constant folding and graph simplification by onnxruntime's offline optimisation (basic level).

    Folds constant subgraphs into initializers, drops identity-like and unused nodes and fuses
    Conv with a following Add, Mul or BatchNormalization. Opset imports the rewritten graph no
    longer uses are removed, so the result stays a plain ONNX model.

    Args:
        model_bytes: a serialised ONNX model.

    Returns:
        The simplified model, serialised.
    """
    from imgadapt.session import ort

    onnx = _onnx()
    opts = ort().SessionOptions()
    opts.graph_optimization_level = ort().GraphOptimizationLevel.ORT_ENABLE_BASIC
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = os.path.join(tmp, "simplified.onnx")
        ort().InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
        model = onnx.load(opts.optimized_model_filepath)
    used = {n.domain for n in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def set_metadata(model_bytes: bytes, props: dict[str, str]) -> bytes:
    """The model with ``props`` as metadata properties (replacing those of the same keys)."""
    onnx = _onnx()
    model = onnx.load_from_string(model_bytes)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def read_metadata(model_bytes: bytes) -> dict[str, str]:
    return {p.key: p.value for p in _onnx().load_from_string(model_bytes).metadata_props}


def to_fp16(model_bytes: bytes) -> bytes:
    """fp16 weights and compute with float32 inputs and outputs (a Cast at each boundary).

    Uses ``onnxruntime.transformers.float16`` (onnxruntime's copy of onnxconverter-common's
    converter) with ``keep_io_types=True``.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx = _onnx()
    model = convert_float_to_float16(onnx.load_from_string(model_bytes), keep_io_types=True)
    return model.SerializeToString()


def _float_values(tensor) -> int:
    return int(np.prod(tensor.dims)) if tensor.data_type in (1, 10, 11) else 0  # float, float16, double


def graph_stats(model_bytes: bytes, channels: int, size: int = 48) -> dict:
    """Nodes, stored weights and multiply-adds per input pixel of a single-input image model.

    Multiply-adds count the ``Conv`` and ``ConvTranspose`` nodes of the main graph (the work of
    these models; element-wise operations are not counted), with the shapes measured by running
    the model on a ``(1, channels, size, size)`` input.

    Returns:
        ``{"nodes", "params", "macs_per_pixel", "ops"}``: ``params`` counts the floating-point
        values in initializers and ``Constant`` nodes; ``ops`` the nodes per operator type.
    """
    onnx = _onnx()
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inits = {t.name: list(t.dims) for t in graph.initializer}
    params = sum(_float_values(t) for t in graph.initializer)
    params += sum(_float_values(a.t) for n in graph.node if n.op_type == "Constant" for a in n.attribute
                  if a.name == "value")
    convs = [n for n in graph.node if n.op_type in CONV_OPS]
    known = {graph.input[0].name}
    wanted = sorted({name for n in convs for name in (n.input[0], n.input[1], n.output[0])} - set(inits) - known)
    outputs = {o.name for o in graph.output}
    for name in wanted:
        if name not in outputs:
            graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    x = np.zeros((1, channels, size, size), np.float32)
    session = cpu_session(model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    shapes = {**inits, graph.input[0].name: list(x.shape),
              **{n: list(v.shape) for n, v in zip(names, session.run(None, {graph.input[0].name: x}))}}
    macs = 0
    for n in convs:
        per_position = int(np.prod(shapes[n.input[1]][1:]))
        positions = shapes[n.output[0]] if n.op_type == "Conv" else shapes[n.input[0]]
        macs += int(np.prod(positions)) * per_position
    return {"nodes": len(graph.node), "params": int(params), "macs_per_pixel": round(macs / (size * size), 1),
            "ops": dict(sorted(Counter(n.op_type for n in graph.node).items()))}


def compare_throughput(models: dict[str, bytes], channels: int, size: int = 512, runs: int = 7,
                       threads: int | None = 1) -> dict:
    """Megapixels of input per second of several models, measured in the same run.

    The models take turns on one ``(1, channels, size, size)`` input (after a warm-up run each),
    so load on a shared machine affects them alike; the figure is the median of ``runs``.

    Returns:
        ``{label: {"ms": median milliseconds, "mp_s": input megapixels per second}}`` plus
        ``measured_on``, ``runs`` and ``threads``.
    """
    x = np.random.default_rng(0).random((1, channels, size, size), dtype=np.float32)
    sessions = {label: cpu_session(data, threads) for label, data in models.items()}
    calls = {label: (lambda s=s: s.run(None, {s.get_inputs()[0].name: x})) for label, s in sessions.items()}
    result = {}
    for label, median in interleaved(calls, runs).items():
        result[label] = {"ms": round(median * 1000, 2), "mp_s": round(size * size / 1e6 / median, 3)}
    return {**result, "measured_on": [1, channels, size, size], "runs": runs, "threads": threads}


class OnnxModule(nn.Module):
    """An ONNX model behind the ``nn.Module`` call interface (CPU onnxruntime, float32 in and out),
    so the torch-side measurements (e.g. :func:`~export.onnx.optimize.mean_psnr`) apply to exported graphs."""

    def __init__(self, model_bytes: bytes, threads: int | None = 1):
        super().__init__()
        self.session = cpu_session(model_bytes, threads)
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.session.run(None, {self.input_name: x.detach().float().contiguous().numpy()})[0]
        return torch.from_numpy(np.asarray(y, np.float32))


def dumps(summary: dict) -> str:
    return json.dumps(summary, separators=(",", ":"), sort_keys=False)
