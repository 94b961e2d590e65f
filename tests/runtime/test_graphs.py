"""The pre/post-processing graphs chained to every model (the CUDA path), run on the CPU here: their
bytes (written without the onnx package), their results against the host (numpy/OpenCV) path within
one output level for every dtype, pattern and layout, and tiled equal to untiled exactly on both paths."""
import numpy as np
import pytest

import imgadapt
from imgadapt import _chain, _graphs, _onnx_proto, _session

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


def _frame(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def _levels(a, b):
    """Largest difference in output levels (float outputs: in 16-bit levels)."""
    scale = 65535.0 if a.dtype.kind == "f" else 1.0
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max() * scale)


def _on(model, graphs: bool):
    model._graph_io = graphs
    return model


# ---------------------------------------------------------------------------------------------
# bytes


def test_protobuf_writer_gives_the_bytes_of_onnx_helper():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    idx = np.array([2, 1, 0], np.int64)
    ref = helper.make_model(helper.make_graph(
        [helper.make_node("Pad", ["a", "p"], ["b"], mode="reflect"),
         helper.make_node("Conv", ["b", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1], group=1),
         helper.make_node("Clip", ["c", "lo", "hi"], ["d"], name="clip"),
         helper.make_node("LeakyRelu", ["d"], ["e"], alpha=0.25)],
        "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 3, "h", "w"]),
              helper.make_tensor_value_info("p", TensorProto.INT64, [8]),
              helper.make_tensor_value_info("lo", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("hi", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n", 1, "H", "W"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(idx, "idx")]),
        opset_imports=[helper.make_opsetid("", 17)])
    ref.ir_version = 8
    P = _onnx_proto
    mine = P.model(P.graph(
        [P.node("Pad", ["a", "p"], ["b"], mode="reflect"),
         P.node("Conv", ["b", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1], group=1),
         P.node("Clip", ["c", "lo", "hi"], ["d"], name="clip"),
         P.node("LeakyRelu", ["d"], ["e"], alpha=0.25)],
        "g", [P.value_info("a", P.FLOAT, ["n", 3, "h", "w"]), P.value_info("p", P.INT64, [8]),
              P.value_info("lo", P.FLOAT, []), P.value_info("hi", P.FLOAT, [])],
        [P.value_info("e", P.FLOAT, ["n", 1, "H", "W"])], [P.tensor("w", w), P.tensor("idx", idx)]))
    assert mine == ref.SerializeToString()
    onnx.checker.check_model(onnx.load_from_string(mine), full_check=True)


def test_protobuf_reader_reads_nodes_attributes_and_initializer_shapes():
    P = _onnx_proto
    data = P.model(P.graph([P.node("Conv", ["x", "w"], ["y"], strides=[2, 2], group=3, auto_pad="NOTSET")], "g",
                           [P.value_info("x", P.FLOAT, [1, 3, "h", "w"])], [P.value_info("y", P.FLOAT)],
                           [P.tensor("w", np.zeros((6, 1, 3, 3), np.float32))]))
    g = _onnx_proto.read_model(data)
    assert g.inputs == ["x"] and g.outputs == ["y"] and g.initializers == {"w": [6, 1, 3, 3]}
    (node,) = g.nodes
    assert (node.op_type, node.inputs, node.outputs) == ("Conv", ["x", "w"], ["y"])
    assert node.attrs == {"strides": [2, 2], "group": 3, "auto_pad": "NOTSET"}


def test_graphs_are_valid_onnx_and_built_identically_each_time():
    onnx = pytest.importorskip("onnx")
    for dtype in DTYPES:
        for layout, channels in ((_graphs.GRAY, 1), (_graphs.GRAY, 3), (_graphs.BGR, 3), (_graphs.BGR, 1)):
            data = _graphs.pre_graph(dtype, layout, channels)
            assert data == _graphs.pre_graph.__wrapped__(dtype, layout, channels)
            onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
        for to, channels in ((_graphs.TO_BGR, 3), (_graphs.TO_MEAN, 3), (_graphs.TO_PLANE, 1), (_graphs.TO_PLANE, 2)):
            for clip in (True, False):
                data = _graphs.post_graph(dtype, channels, to, clip)
                assert data == _graphs.post_graph.__wrapped__(dtype, channels, to, clip)
                onnx.checker.check_model(onnx.load_from_string(data), full_check=True)


def test_the_runtime_builds_its_graphs_without_the_onnx_package():
    """imgadapt's runtime imports neither onnx nor protobuf (numpy, OpenCV, onnxruntime only)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, imgadapt\n"
            "from imgadapt import _graphs\n"
            "_graphs.pre_graph(np.uint16, 'gray', 1); _graphs.post_graph(np.uint16, 3, 'bgr', False)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'google', 'torch'))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# the chain


def test_a_chain_binds_pre_model_and_post_on_one_device(installed):
    model = imgadapt.load("demosaic/conv", tile=0)
    pre = _session.ort().InferenceSession(_graphs.pre_graph(np.uint8, _graphs.GRAY, 1),
                                          providers=["CPUExecutionProvider"])
    post = _session.ort().InferenceSession(_graphs.post_graph(np.uint8, 3, _graphs.TO_BGR, False),
                                           providers=["CPUExecutionProvider"])
    chain = _chain.Chain(pre, model.session, post)
    mosaic = np.arange(48, dtype=np.uint8).reshape(6, 8)
    out = np.empty((1, 6, 8, 3), np.uint8)
    zero = _graphs.pad_vector(0, 0, 0, 0)
    result = chain(mosaic[None], {"scale": np.array(1 / 255, np.float32), "pads": zero, "halo": zero},
                   {"starts": np.array([0, 0]), "ends": np.array([6, 8]), "level": np.array(255, np.float32),
                    "top": np.array(255, np.float32)}, out)
    assert result is out
    y = model.session.run(None, {"x": (mosaic.astype(np.float32) * np.float32(1 / 255))[None, None]})[0][0]
    expected = np.clip(np.rint(y[::-1].transpose(1, 2, 0) * 255), 0, 255)
    assert np.abs(out[0].astype(int) - expected).max() <= 1
    with pytest.raises(imgadapt.InputValueError, match="C-contiguous"):
        chain(mosaic[None], {}, {}, np.empty((1, 8, 6, 3), np.uint8).transpose(0, 2, 1, 3))


# ---------------------------------------------------------------------------------------------
# graphs against the host path, tiled against untiled


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pattern", imgadapt.PATTERNS)
def test_demosaic_graphs_equal_the_host_path(installed, rng, dtype, pattern):
    model = imgadapt.load("demosaic/conv", tile=0)
    for shape in ((37, 52), (30, 41), (2, 2), (3, 5)):  # odd sizes; frames below the halo (host-mirrored)
        mosaic = _frame(rng, shape, dtype)
        host = _on(model, False)(mosaic, pattern)
        graphs = _on(model, True)(mosaic, pattern)
        assert graphs.dtype == host.dtype == np.dtype(dtype) and graphs.shape == host.shape == shape + (3,)
        assert _levels(graphs, host) <= 1, (shape, pattern, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("graphs", [False, True])
def test_demosaic_tiled_equals_untiled_exactly(installed, rng, dtype, graphs):
    whole = _on(imgadapt.load("demosaic/conv", tile=0), graphs)
    tiled = _on(imgadapt.load("demosaic/conv", tile=16), graphs)
    mosaic = _frame(rng, (61, 47), dtype)
    for pattern in imgadapt.PATTERNS:
        np.testing.assert_array_equal(tiled(mosaic, pattern), whole(mosaic, pattern))


@pytest.mark.parametrize("graphs", [False, True])
def test_shipped_demosaicker_graphs_and_tiles(rng, graphs):
    """The shipped default (PAFU: kernel choice by argmax, which any float difference in its input
    could flip) through both paths, tiled and whole, on a uint16 mosaic with a white level."""
    mosaic = rng.integers(0, 4096, (70, 90)).astype(np.uint16)
    whole = _on(imgadapt.load("demosaic/pafu-linear", tile=0), graphs)
    tiled = _on(imgadapt.load("demosaic/pafu-linear", tile=32), graphs)
    for pattern in ("GRBG", "BGGR"):
        a = whole(mosaic, pattern, white_level=4095)
        np.testing.assert_array_equal(tiled(mosaic, pattern, white_level=4095), a)
        assert a.max() <= 4095
        other = _on(imgadapt.load("demosaic/pafu-linear", tile=0), not graphs)(mosaic, pattern, white_level=4095)
        assert _levels(a, other) <= 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape", [("sr/conv-x2", (23, 31, 3)), ("sr/conv-x2", (23, 31)),
                                        ("sr/luma-x2", (23, 31, 3)), ("sr/luma-x2", (23, 31)),
                                        ("edges/conv", (23, 31, 3)), ("edges/conv", (23, 31)),
                                        ("edges/gray", (23, 31, 3))])
def test_image_graphs_equal_the_host_path_and_tiles_equal_whole(luma_sr, installed, model_dir, rng, dtype, name,
                                                                shape):
    from tests.runtime.conftest import conv_stack_onnx, register

    register(model_dir, "edges/gray", "edges", conv_stack_onnx(1, 1, sigmoid=True), input={"channels": 1},
             receptive_field=9)
    image = _frame(rng, shape, dtype)
    whole = imgadapt.load(name, tile=0)
    tiled = imgadapt.load(name, tile=8)
    host, graphs = _on(whole, False)(image), _on(whole, True)(image)
    assert graphs.dtype == host.dtype and graphs.shape == host.shape
    assert _levels(graphs, host) <= 1
    for on_graphs in (False, True):
        _on(whole, on_graphs)
        _on(tiled, on_graphs)
        if name == "sr/luma-x2" and len(shape) == 3:  # bicubic chroma per tile: OpenCV rounds by position
            assert _levels(tiled(image), whole(image)) <= (1 if np.dtype(dtype).kind == "u" else 0.2)
        else:
            np.testing.assert_array_equal(tiled(image), whole(image))


def test_graphs_mirror_the_frame_themselves_when_they_can(installed, rng, monkeypatch):
    """A whole frame goes to the device as it is (the pre graph pads it); tiles and frames too small
    for ONNX's reflect padding are mirrored on the host first: both give the host path's result."""
    model = _on(imgadapt.load("demosaic/conv", tile=0), True)
    sent = []
    real = _chain.Chain.__call__

    def spy(self, image, pre, post, out):
        sent.append((image.shape, tuple(pre["pads"]), tuple(pre["halo"])))
        return real(self, image, pre, post, out)
    monkeypatch.setattr(_chain.Chain, "__call__", spy)
    mosaic = _frame(rng, (40, 30), np.uint16)
    model(mosaic, "GBRG")
    assert sent[-1][0] == (1, 40, 30) and sent[-1][1] == (0, 0, 1, 0, 0, 0, 1, 0) and sent[-1][2][2] > 0
    model(mosaic[:3, :3], "GBRG")
    assert sent[-1][1] == sent[-1][2] == (0,) * 8 and sent[-1][0][1] > 3
