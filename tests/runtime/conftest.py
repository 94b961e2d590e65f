"""Tiny ONNX models built with onnx.helper, registered in a temporary model directory; a tiling check."""
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
# Camera RAW files written in the tests (tifffile DNG writer of imgadapt._peers)


def linear_scene(h=64, w=96, seed=0, lo=0.05, hi=0.85):
    """A linear BGR float64 test scene in [lo, hi]: smooth shading, discs with sharp edges, stripes."""
    import cv2

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([0.5 + 0.3 * np.sin(x / (7 + 3 * c) + y / 13) for c in range(3)], axis=2)
    for _ in range(5):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(6, 20)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0.1, 0.9, 3)
    img[h // 4:h // 2, w // 2:] = (0.5 + 0.35 * np.sin(x[h // 4:h // 2, w // 2:] * 0.9))[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    return lo + (hi - lo) * (img - img.min()) / (img.max() - img.min())


def sample_scene():
    """A natural image in the repository: the bundled 256x256 RGGB sample mosaic binned 2x2 into a
    128x128 BGR float64 image (R, mean of the two G, B per block), which has no demosaicking in it."""
    from pathlib import Path

    import cv2

    mosaic = cv2.imread(str(Path(__file__).parents[2] / "imgadapt" / "data" / "astronaut_rggb.png"),
                        cv2.IMREAD_UNCHANGED).astype(np.float64) / 255
    return np.stack([mosaic[1::2, 1::2], (mosaic[0::2, 1::2] + mosaic[1::2, 0::2]) / 2, mosaic[0::2, 0::2]], axis=2)


def write_dng(path, linear_bgr, pattern="RGGB", black=512, white=16383, neutral=(1.0, 1.0, 1.0),
              matrix="srgb", orientation=1):
    """Sample a linear camera-RGB image (BGR order, 0..1) with a Bayer CFA, scale it to
    ``black..white`` per site, write it as a DNG and return the uint16 mosaic written."""
    from imgadapt import _bayer
    from imgadapt._peers import mosaic_to_dng

    pytest.importorskip("tifffile", reason="DNG files are written with tifffile")
    h, w = linear_bgr.shape[:2]
    black4 = np.broadcast_to(np.asarray(black, np.float64), (4,))
    black_map = np.tile(black4.reshape(2, 2), (h // 2 + 1, w // 2 + 1))[:h, :w]
    mosaic = _bayer.mosaic(np.asarray(linear_bgr, np.float64), pattern)
    values = np.clip(np.rint(black_map + mosaic * (white - black_map)), 0, white).astype(np.uint16)
    black_tag = int(black4[0]) if np.ndim(black) == 0 else tuple(int(b) for b in black4)
    path.write_bytes(mosaic_to_dng(values, pattern, white_level=white, color_matrix=matrix, black_level=black_tag,
                                   as_shot_neutral=neutral, orientation=orientation))
    return values


XTRANS = [1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
          1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1]


def write_odd_cfa_dng(path, kind, h=48, w=60):
    """A DNG whose sensor is not a 2x2 RGB Bayer: ``"xtrans"`` (6x6) or ``"cmyg"`` (four colours)."""
    tifffile = pytest.importorskip("tifffile", reason="DNG files are written with tifffile")
    import io

    from imgadapt._peers import _srational

    dim, cfa, planes, ncol = {"xtrans": ((6, 6), XTRANS, (0, 1, 2), 3),
                              "cmyg": ((2, 2), (0, 1, 2, 3), (3, 4, 5, 1), 4)}[kind]
    tags = [(274, "H", 1, 1, True), (33421, "H", 2, dim, True), (33422, "B", len(cfa), bytes(cfa), True),
            (50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "imgadapt test", True),
            (50710, "B", len(planes), planes, True), (50711, "H", 1, 1, True), (50714, "I", 1, 0, True),
            (50717, "I", 1, 65535, True), (50721, "2i", 3 * ncol, _srational(np.eye(ncol, 3).ravel()), True),
            (50728, "2I", ncol, (1, 1) * ncol, True), (50778, "H", 1, 21, True)]
    buffer = io.BytesIO()
    data = np.random.default_rng(0).integers(0, 60000, (h, w)).astype(np.uint16)
    tifffile.imwrite(buffer, data, photometric=32803, planarconfig=None, compression=None, subfiletype=0,
                     metadata=None, extratags=tags)
    path.write_bytes(buffer.getvalue())


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
