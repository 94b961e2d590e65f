import pytest

from imgadapt import _session
from imgadapt._errors import ProviderError

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def test_default_prefers_cuda_then_cpu():
    assert _session.choose_providers(available=[CUDA, CPU]) == [CUDA, CPU]
    assert _session.choose_providers(available=[CPU]) == [CPU]


def test_strict_gpu_fails_loudly_without_cuda():
    with pytest.raises(ProviderError, match="CUDAExecutionProvider is not available"):
        _session.choose_providers(None, strict=True, available=[CPU])
    assert _session.choose_providers(None, strict=True, available=[CUDA, CPU])[0] == CUDA


def test_aliases_and_fallback():
    assert _session.choose_providers(["cpu"], available=[CUDA, CPU]) == [CPU]
    assert _session.choose_providers(["cuda"], available=[CUDA, CPU]) == [CUDA, CPU]
    assert _session.choose_providers(["cuda", "cpu"], available=[CPU]) == [CPU]
    with pytest.raises(ProviderError, match="not available"):
        _session.choose_providers(["cuda"], available=[CPU])
    with pytest.raises(ProviderError):
        _session.choose_providers(["cuda", "cpu"], strict=True, available=[CPU])


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads: expected a positive integer"):
        _session.session_options(0)
    assert _session.session_options(2).intra_op_num_threads == 2


def test_session_created_once(registry):
    import imgadapt

    a = imgadapt.load("demosaic/conv", registry=registry, threads=1)
    b = imgadapt.load("demosaic/conv", registry=registry, threads=1)
    assert a.session is b.session
    assert imgadapt.load("demosaic/conv", registry=registry, threads=2).session is not a.session


def test_chosen_provider_logged(registry, caplog):
    import imgadapt

    _session.clear_cache()
    with caplog.at_level("INFO", logger="imgadapt"):
        imgadapt.load("edges/conv", registry=registry)
    assert "runs on CPUExecutionProvider" in caplog.text


def test_graph_optimisation_level_from_name():
    ort = pytest.importorskip("onnxruntime")
    assert _session.session_options(1, "all").graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert (_session.session_options(1).graph_optimization_level
            == ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    with pytest.raises(ValueError, match="extended"):
        _session.session_options(1, "fastest")
