"""Tiny ONNX models built with onnx.helper, registered in a temporary model directory."""
import hashlib
import json

import numpy as np
import pytest

from imgadapt._registry import Registry


def conv_stack_onnx(in_ch, out_ch, kernel_sizes=(5, 5), width=4, scale=1, sigmoid=False, seed=0):
    """Conv layers with zero 'same' padding and ReLU between them; optional depth-to-space."""
    pytest.importorskip("onnx", reason="fixture models are built with onnx (dev extra)")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, prev, ch = [], [], "x", in_ch
    for i, k in enumerate(kernel_sizes):
        last = i == len(kernel_sizes) - 1
        oc = out_ch * scale * scale if last else width
        w = (rng.standard_normal((oc, ch, k, k)) / (ch * k * k)).astype(np.float32)
        b = (0.1 * rng.standard_normal(oc)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "y" if last and scale == 1 and not sigmoid else f"c{i}"
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [out], pads=[k // 2] * 4))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        prev, ch = out, oc
    if scale > 1:
        nodes.append(helper.make_node("DepthToSpace", [prev], ["d" if sigmoid else "y"], blocksize=scale, mode="CRD"))
        prev = "d"
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", [prev], ["y"]))
    graph = helper.make_graph(
        nodes, "fixture", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_ch, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def register(root, name, task, data, **card):
    path = root / (name + ".onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    card = {"name": name, "task": task, "onnx_sha256": hashlib.sha256(data).hexdigest(), **card}
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


@pytest.fixture
def model_dir(tmp_path):
    register(tmp_path, "demosaic/conv", "demosaic", conv_stack_onnx(1, 3),
             input={"channels": 1, "pattern": "RGGB", "multiple": 2}, receptive_field=9, default_rank=1)
    register(tmp_path, "sr/conv-x2", "sr", conv_stack_onnx(3, 3, scale=2),
             input={"channels": 3}, scale=2, receptive_field=9)
    register(tmp_path, "edges/conv", "edges", conv_stack_onnx(3, 1, sigmoid=True),
             input={"channels": 3}, receptive_field=9)
    return tmp_path


@pytest.fixture
def registry(model_dir):
    return Registry([model_dir])


@pytest.fixture
def installed(model_dir, monkeypatch):
    """Make the fixture models the ones the public API sees."""
    import imgadapt._model as m

    monkeypatch.setattr(m, "_registry", Registry([model_dir]))
    monkeypatch.setattr(m, "_loaded_models", {})
    return model_dir
