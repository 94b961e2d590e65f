"""The CUDA path written for GPU serving, tested without a GPU: provider entries and options from fake
provider lists, and IO-bound chains of models (the same code binds host memory on the CPU provider)."""
import numpy as np
import pytest

from imgadapt import _chain, _session
from imgadapt._errors import InputValueError

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.mark.parametrize("available,expected", [([CUDA, CPU], [CUDA, CPU]), ([CPU], [CPU])])
def test_cuda_gets_its_options_and_cpu_its_name(available, expected):
    entries = _session.provider_entries(_session.choose_providers(available=available), device_id=1,
                                        cuda_options={"cudnn_conv_algo_search": "EXHAUSTIVE"})
    assert [e[0] if isinstance(e, tuple) else e for e in entries] == expected
    if CUDA in expected:
        options = entries[0][1]
        assert options["device_id"] == 1 and options["cudnn_conv_algo_search"] == "EXHAUSTIVE"
        assert options["arena_extend_strategy"] == _session.CUDA_OPTIONS["arena_extend_strategy"]


def test_a_bad_device_id_is_refused():
    with pytest.raises(InputValueError, match="device_id: expected an integer >= 0, got -1"):
        _session.provider_entries([CUDA], device_id=-1)


class _FakeSession:
    def __init__(self, provider, device_id=0):
        self.provider, self.device_id = provider, device_id

    def get_providers(self):
        return [self.provider, CPU]

    def get_provider_options(self):
        return {CUDA: {"device_id": str(self.device_id)}} if self.provider == CUDA else {}


def test_bound_tensors_live_where_the_session_runs():
    assert _chain.binding_device(_FakeSession(CUDA)) == "cuda"
    assert _chain.binding_device(_FakeSession(CPU)) == "cpu"
    with pytest.raises(InputValueError, match="expected sessions on one device"):
        _chain.run_chain([_FakeSession(CUDA, 0), _FakeSession(CUDA, 1)], np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(InputValueError, match="at least one session"):
        _chain.run_chain([], np.zeros((1, 1, 4, 4), np.float32))


def test_a_chain_through_io_binding_equals_running_the_models_one_by_one(model_dir, luma_sr):
    ort = _session.ort()
    path = str(model_dir / (luma_sr + ".onnx"))
    first, second = (ort.InferenceSession(path, providers=[CPU]) for _ in range(2))
    x = np.random.default_rng(0).random((1, 1, 12, 10), dtype=np.float32)
    one_by_one = second.run(None, {"x": first.run(None, {"x": x})[0]})[0]
    np.testing.assert_allclose(_chain.run_chain([first, second], x), one_by_one, rtol=1e-6, atol=1e-6)
