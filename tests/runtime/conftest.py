"""Tiny ONNX models built with onnx.helper, registered in a temporary model directory; a tiling check."""
import hashlib
import json

import numpy as np
import pytest

from tests._raw_files import linear_scene, sample_scene, write_dng, write_odd_cfa_dng
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
def luma_sr(model_dir):
    """A x2 model of one (luma) channel, next to the fixture models."""
    register(model_dir, "sr/luma-x2", "sr", conv_stack_onnx(1, 1, scale=2), input={"channels": 1}, scale=2,
             receptive_field=9)
    return "sr/luma-x2"


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


# --------------------------------------------------------------------------------------------
# Camera RAW files written in the tests (tests/_raw_files.py)


@pytest.fixture
def dng():
    """DNG test-file helpers: ``dng.scene(...)``, ``dng.sample()``, ``dng.write(path, image, ...)``,
    ``dng.write_odd(path, kind)``."""
    from types import SimpleNamespace

    return SimpleNamespace(scene=linear_scene, sample=sample_scene, write=write_dng, write_odd=write_odd_cfa_dng)


# --------------------------------------------------------------------------------------------
# Evaluation images


def smooth_folder(folder, rng, shapes=((41, 50), (36, 36))):
    """Smooth 8-bit colour images ``hr0.png``, ``hr1.png`` ... of ``shapes`` in ``folder``, like small photos."""
    import cv2

    from imgadapt._io import write_array

    folder.mkdir(exist_ok=True)
    for i, (h, w) in enumerate(shapes):
        x = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.float64), (0, 0), 1.5)
        write_array(folder / f"hr{i}.png", np.rint(255 * (x - x.min()) / (x.max() - x.min())).astype(np.uint8))
    return folder


@pytest.fixture
def photos():
    """``photos(folder, shapes=...)``: :func:`smooth_folder` with a fixed seed; returns the folder."""
    return lambda folder, shapes=((41, 50), (36, 36)): smooth_folder(folder, np.random.default_rng(0), shapes)


@pytest.fixture
def assert_tiled_equals_untiled():
    """A check that the model ``name`` gives the same output on ``image`` in tiles of ``tile``
    pixels as in one piece."""
    import imgadapt

    def check(name, image, tile, **kwargs):
        whole = imgadapt.load(name, tile=0)(image, **kwargs)
        tiled = imgadapt.load(name, tile=tile)(image, **kwargs)
        np.testing.assert_allclose(tiled, whole, atol=2e-5)
    return check
