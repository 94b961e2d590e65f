"""Chained models on one device: IO binding hands each model's output to the next without a host copy.

With the CUDA provider, the input is copied to the GPU once, every intermediate result stays in GPU
memory (an ``OrtValue`` bound as the next model's input) and only the last output comes back to the
host. With the CPU provider the same code binds host memory, which is how it is tested: this project's
machine has no GPU, so the CUDA branch (``device_type="cuda"``) has not been run.
"""
from __future__ import annotations

import numpy as np

from ._errors import InputValueError
from ._session import ort


def binding_device(session) -> str:
    """``"cuda"`` when the session runs on the CUDA provider, else ``"cpu"``: where bound tensors live."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def _device_id(session) -> int:
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
    devices = {(binding_device(s), _device_id(s) if binding_device(s) == "cuda" else 0) for s in sessions}
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
