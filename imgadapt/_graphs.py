"""The small pre- and post-processing graphs chained to every model on its device.

A model takes ``(N, C, h, w)`` float32 in [0, 1] (RGB planes, RGGB-canonical mosaics) and returns
``(N, C_out, h*s, w*s)`` float32. Between that and the user's arrays lies per-pixel work: dtype to
float and white-level scaling, the Bayer phase shift and the halo (mirror padding), the crop of the
halo, clipping, rounding, the cast back and the channel order. With the CUDA provider that work runs
in these graphs next to the model (:class:`imgadapt._chain.Chain` binds them together), so the host
copies the input to the device once and the output back once.

The graphs are built here, when a model first needs them, with :mod:`imgadapt._onnx_proto` (no
``onnx`` package at runtime), one per input layout and dtype; the values that change per call (scale, pads, crop, white
level) are graph inputs, so a model needs a handful of sessions whatever the frames. Each graph
computes exactly what the host path of :mod:`imgadapt._model` computes with numpy and OpenCV
(same float32 operations; integers rounded half to even as ``cv2`` does), which the tests check.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _onnx_proto as P

OPSET = 17
#: OpenCV's float ``BGR2GRAY`` (and the Y of ``BGR2YCrCb``), B, G, R
GRAY_WEIGHTS = np.array([[0.114], [0.587], [0.299]], np.float32)

# input layouts of the user's frames, as stacked for one call
GRAY = "gray"  # (N, H, W)
BGR = "bgr"    # (N, H, W, 3)

# what a post graph makes of the model's channels
TO_BGR = "bgr"        # 3 RGB planes -> (N, h, w, 3) BGR
TO_MEAN = "mean"      # 3 planes -> (N, h, w), their mean (a gray image through an RGB model)
TO_PLANE = "plane"    # the first plane -> (N, h, w)


def _dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"no graph for dtype {dtype}")
    return dtype


@lru_cache(maxsize=None)
def pre_graph(dtype, layout: str, channels: int) -> bytes:
    """Frames of ``dtype`` in ``layout`` to the model's ``(N, channels, H', W')`` float32 input.

    Inputs: ``image`` (N, H, W) or (N, H, W, 3) of ``dtype``; ``scale`` float32 scalar (1 / full scale
    of integer data, 1 for floats); ``pads`` and ``halo`` int64 [8]: two mirror paddings
    (``BORDER_REFLECT_101``, ONNX ``reflect``) of the NCHW tensor, applied in that order (the Bayer
    phase shift, then the halo). Output: ``x``.
    """
    dtype = _dtype(dtype)
    nodes = [P.node("Cast", ["image"], ["f"], to=P.FLOAT), P.node("Mul", ["f", "scale"], ["v"])]
    inits = []
    if layout == GRAY:
        inits.append(P.tensor("axis1", np.array([1], np.int64)))
        nodes.append(P.node("Unsqueeze", ["v", "axis1"], ["p" if channels == 3 else "c"]))
        if channels == 3:
            nodes.append(P.node("Concat", ["p", "p", "p"], ["c"], axis=1))
    elif layout == BGR:
        if channels == 3:
            inits.append(P.tensor("rgb", np.array([2, 1, 0], np.int64)))
            nodes += [P.node("Transpose", ["v"], ["t"], perm=[0, 3, 1, 2]),
                      P.node("Gather", ["t", "rgb"], ["c"], axis=1)]
        else:  # (B*wb + G*wg) + R*wr in float32, operation by operation as the host computes it
            inits += [P.tensor("wb", GRAY_WEIGHTS[0]), P.tensor("wg", GRAY_WEIGHTS[1]), P.tensor("wr", GRAY_WEIGHTS[2])]
            nodes += [P.node("Split", ["v"], ["b", "g", "r"], axis=3, num_outputs=3) if OPSET >= 18 else
                      P.node("Split", ["v"], ["b", "g", "r"], axis=3),
                      P.node("Mul", ["b", "wb"], ["b1"]), P.node("Mul", ["g", "wg"], ["g1"]),
                      P.node("Add", ["b1", "g1"], ["bg"]), P.node("Mul", ["r", "wr"], ["r1"]),
                      P.node("Add", ["bg", "r1"], ["y"]), P.node("Transpose", ["y"], ["c"], perm=[0, 3, 1, 2])]
    else:
        raise ValueError(f"unknown layout {layout!r}")
    nodes += [P.node("Pad", ["c", "pads"], ["a"], mode="reflect"), P.node("Pad", ["a", "halo"], ["x"], mode="reflect")]
    shape = ["n", "h", "w"] + ([3] if layout == BGR else [])
    inputs = [P.value_info("image", P.ELEM_TYPES[dtype], shape), P.value_info("scale", P.FLOAT, []),
              P.value_info("pads", P.INT64, [8]), P.value_info("halo", P.INT64, [8])]
    outputs = [P.value_info("x", P.FLOAT, ["n", channels, "H", "W"])]
    return P.model(P.graph(nodes, "imgadapt_pre", inputs, outputs, inits), OPSET)


@lru_cache(maxsize=None)
def post_graph(dtype, channels: int, to: str, clip: bool) -> bytes:
    """The model's ``(N, channels, h, w)`` float32 output to finished frames of ``dtype``.

    Inputs: ``y``; ``starts`` and ``ends`` int64 [2]: the rows and columns to keep (the crop of the
    halo and of alignment padding); ``level`` float32: the full scale integers are written at (255,
    65535 or the white level); ``top`` float32: the largest integer written (the white level rounded
    down). Steps: crop; the channel reduction of ``to``; with ``clip``, clip to [0, 1]; integers:
    times ``level``, rounded half to even, clipped to [0, top], cast; float64: cast; then the channel
    order of ``to``. Output: ``out``, (N, h, w, 3) for :data:`TO_BGR`, else (N, h, w).
    """
    dtype = _dtype(dtype)
    inits = [P.tensor("hw", np.array([2, 3], np.int64))]
    if clip or dtype.kind == "u":
        inits.append(P.tensor("zero", np.array(0, np.float32)))
    if clip:
        inits.append(P.tensor("one", np.array(1, np.float32)))
    nodes = [P.node("Slice", ["y", "starts", "ends", "hw"], ["v0"])]
    value = "v0"
    if to == TO_MEAN:
        nodes.append(P.node("ReduceMean", [value], ["v1"], axes=[1], keepdims=0))
        value = "v1"
    elif to == TO_PLANE:
        inits.append(P.tensor("first", np.array(0, np.int64)))
        nodes.append(P.node("Gather", [value, "first"], ["v1"], axis=1))
        value = "v1"
    elif to != TO_BGR:
        raise ValueError(f"unknown channel mapping {to!r}")
    if clip:
        nodes.append(P.node("Clip", [value, "zero", "one"], ["v2"]))
        value = "v2"
    if dtype.kind == "u":
        nodes += [P.node("Mul", [value, "level"], ["s"]), P.node("Round", ["s"], ["r"]),
                  P.node("Clip", ["r", "zero", "top"], ["k"]), P.node("Cast", ["k"], ["v3"], to=P.ELEM_TYPES[dtype])]
        value = "v3"
    elif dtype == np.float64:
        nodes.append(P.node("Cast", [value], ["v3"], to=P.DOUBLE))
        value = "v3"
    if to == TO_BGR:
        inits.append(P.tensor("bgr", np.array([2, 1, 0], np.int64)))
        nodes += [P.node("Gather", [value, "bgr"], ["g"], axis=1),
                  P.node("Transpose", ["g"], ["out"], perm=[0, 2, 3, 1])]
    else:
        nodes.append(P.node("Identity", [value], ["out"]))
    inputs = [P.value_info("y", P.FLOAT, ["n", channels, "h", "w"]), P.value_info("starts", P.INT64, [2]),
              P.value_info("ends", P.INT64, [2]), P.value_info("level", P.FLOAT, []), P.value_info("top", P.FLOAT, [])]
    outputs = [P.value_info("out", P.ELEM_TYPES[dtype], ["n", "h", "w"] + ([3] if to == TO_BGR else []))]
    return P.model(P.graph(nodes, "imgadapt_post", inputs, outputs, inits), OPSET)


def pad_vector(top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """The ``pads`` input of ONNX ``Pad`` for an NCHW tensor padded on its height and width."""
    return np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
