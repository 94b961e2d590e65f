"""Chained models on one device: IO binding hands each model's output to the next without a host copy.

With the CUDA provider, the input is copied to the GPU once, every intermediate result stays in GPU
memory (an ``OrtValue`` bound as the next model's input) and only the last output comes back to the
host. With the CPU provider the same code binds host memory, which is how it is tested: this project's
machine has no GPU, so the CUDA branch (``device_type="cuda"``) has not been run.

:class:`Chain` serves every model call on CUDA: a pre-processing graph, the model and a
post-processing graph (:mod:`imgadapt._graphs`), the frames uploaded once and the finished result
written once into the caller's host array.
"""
from __future__ import annotations

import time

import numpy as np

from .errors import InputValueError
from ._session import ort


def binding_device(session) -> str:
    """``"cuda"`` when the session runs on the CUDA provider, else ``"cpu"``: where bound tensors live."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def cuda_device_id(session) -> int:
    options = session.get_provider_options().get("CUDAExecutionProvider", {})
    return int(options.get("device_id", 0))


def run_chain(sessions: list, x: np.ndarray) -> np.ndarray:
    """Run single-input, single-output models one after another on ``x``: ``sessions[-1](...(sessions[0](x)))``.

    Args:
        sessions: onnxruntime sessions, all on the same provider (and device).
        x: the first model's input (float32, C-contiguous after conversion).

    Returns:
        The last model's output as a numpy array.

    Raises:
        InputValueError: no sessions, or sessions on different devices.
    """
    if not sessions:
        raise InputValueError("run_chain: expected at least one session, got none")
    devices = {(binding_device(s), cuda_device_id(s) if binding_device(s) == "cuda" else 0) for s in sessions}
    if len(devices) != 1:
        raise InputValueError(f"run_chain: expected sessions on one device, got {sorted(devices)}")
    device, device_id = devices.pop()
    value = ort().OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x, dtype=np.float32), device, device_id)
    for session in sessions:
        binding = session.io_binding()
        binding.bind_ortvalue_input(session.get_inputs()[0].name, value)
        binding.bind_output(session.get_outputs()[0].name, device, device_id)
        session.run_with_iobinding(binding)
        value = binding.get_outputs()[0]
    return value.numpy()


class Chain:
    """``post(model(pre(image)))`` on the model's device, the intermediate tensors never leaving it.

    Args:
        pre: a session of :func:`imgadapt._graphs.pre_graph` (input ``image`` and parameters, output ``x``).
        model: the model's session (one input, one output).
        post: a session of :func:`imgadapt._graphs.post_graph` (input ``y`` and parameters, output ``out``).

    Raises:
        InputValueError: the sessions are on different devices.
    """

    # When a list, every call appends the seconds of its stages (upload, pre, model, post with the
    # copy to the host), each synchronised before the next starts: a diagnostic for export.onnx.gpu_check.
    stage_seconds: list | None = None

    def __init__(self, pre, model, post):
        places = {(binding_device(s), cuda_device_id(s) if binding_device(s) == "cuda" else 0)
                  for s in (pre, model, post)}
        if len(places) != 1:
            raise InputValueError(f"Chain: expected sessions on one device, got {sorted(places)}")
        self.device, self.device_id = places.pop()
        self.pre, self.model, self.post = pre, model, post
        self._model_io = (model.get_inputs()[0].name, model.get_outputs()[0].name)

    def __call__(self, image: np.ndarray, pre_feeds: dict, post_feeds: dict, out: np.ndarray) -> np.ndarray:
        """Run the chain on ``image`` (C-contiguous, the pre graph's dtype), writing into ``out``
        (a C-contiguous host array of the post graph's output shape and dtype), which it returns.
        ``pre_feeds`` and ``post_feeds``: the graphs' other inputs (small host arrays)."""
        if not out.flags.c_contiguous:
            raise InputValueError("Chain: the output array must be C-contiguous")
        device, device_id = self.device, self.device_id
        record = Chain.stage_seconds
        stamps = [time.perf_counter()]

        def stage(done):
            if record is not None:
                done.synchronize_outputs()
                stamps.append(time.perf_counter())

        value = ort().OrtValue.ortvalue_from_numpy(np.ascontiguousarray(image), device, device_id)
        if record is not None:
            stamps.append(time.perf_counter())
        binding = self.pre.io_binding()
        binding.bind_ortvalue_input("image", value)
        for name, array in pre_feeds.items():
            binding.bind_cpu_input(name, array)
        binding.bind_output("x", device, device_id)
        self.pre.run_with_iobinding(binding)
        stage(binding)
        value = binding.get_outputs()[0]
        model_in, model_out = self._model_io
        binding = self.model.io_binding()
        binding.bind_ortvalue_input(model_in, value)
        binding.bind_output(model_out, device, device_id)
        self.model.run_with_iobinding(binding)
        stage(binding)
        value = binding.get_outputs()[0]
        binding = self.post.io_binding()
        binding.bind_ortvalue_input("y", value)
        for name, array in post_feeds.items():
            binding.bind_cpu_input(name, array)
        binding.bind_output("out", "cpu", 0, out.dtype, out.shape, out.ctypes.data)
        self.post.run_with_iobinding(binding)
        stage(binding)
        if record is not None:
            record.append(dict(zip(("upload", "pre", "model", "post"), np.diff(stamps).tolist())))
        return out
