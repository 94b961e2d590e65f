import pytest

from imgadapt import _session
from imgadapt.errors import ProviderError

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def test_default_prefers_cuda_then_cpu():
    assert _session.choose_providers(available=[CUDA, CPU]) == [CUDA, CPU]
    assert _session.choose_providers(available=[CPU]) == [CPU]


def test_strict_gpu_fails_loudly_without_cuda():
    with pytest.raises(ProviderError, match="CUDAExecutionProvider is not available"):
        _session.choose_providers(None, strict=True, available=[CPU])
    assert _session.choose_providers(None, strict=True, available=[CUDA, CPU])[0] == CUDA


@pytest.fixture
def fresh_warning(monkeypatch):
    """This process has not yet logged its one fall-back warning."""
    monkeypatch.setattr(_session, "_fallback_warned", False)


def test_aliases_and_fallback(fresh_warning, caplog):
    assert _session.choose_providers(["cpu"], available=[CUDA, CPU]) == [CPU]
    assert _session.choose_providers(["cuda"], available=[CUDA, CPU]) == [CUDA, CPU]
    with caplog.at_level("INFO", logger="imgadapt"):
        assert _session.choose_providers(["cuda", "cpu"], available=[CPU]) == [CPU]
    assert not caplog.records  # the CPU was named as the fall-back: no news, as with the default order
    with pytest.raises(ProviderError, match="not available"):
        _session.choose_providers(["cuda", "cpu"], strict=True, available=[CPU])
    with pytest.raises(ProviderError, match="CUDAExecutionProvider not available.*imgadapt\\[gpu\\]"):
        _session.choose_providers(["cuda"], strict=True, available=[CPU])


def test_explicit_cuda_without_it_runs_on_the_cpu_with_one_warning(fresh_warning, caplog):
    with caplog.at_level("INFO", logger="imgadapt"):
        assert _session.choose_providers(["cuda"], available=[CPU]) == [CPU]
        assert _session.choose_providers("cuda", available=[CPU]) == [CPU]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "CUDAExecutionProvider not available in this onnxruntime build" in caplog.records[0].getMessage()
    assert "running on CPUExecutionProvider instead" in caplog.records[0].getMessage()


def test_unknown_provider_names_are_refused():
    with pytest.raises(ProviderError, match="unknown execution provider.*cdua"):
        _session.choose_providers(["cdua"], available=[CUDA, CPU])
    with pytest.raises(ProviderError, match="CUDAExecutionProvider not available"):  # nothing to fall back to
        _session.choose_providers(["cuda"], available=["AzureExecutionProvider"])


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads: expected a positive integer"):
        _session.session_options(0)
    assert _session.session_options(2).intra_op_num_threads == 2


def test_session_created_once(installed):
    import imgadapt

    a = imgadapt.load("demosaic/conv", threads=1)
    b = imgadapt.load("demosaic/conv", threads=1)
    assert a.session is b.session
    assert imgadapt.load("demosaic/conv", threads=2).session is not a.session


def test_chosen_provider_logged(installed, caplog):
    import imgadapt

    _session.clear_cache()
    with caplog.at_level("INFO", logger="imgadapt"):
        imgadapt.load("edges/conv")
    assert "runs on CPUExecutionProvider" in caplog.text


def test_graph_optimisation_level_from_name():
    ort = pytest.importorskip("onnxruntime")
    assert _session.session_options(1, "all").graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert (_session.session_options(1).graph_optimization_level
            == ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    with pytest.raises(ValueError, match="extended"):
        _session.session_options(1, "fastest")
