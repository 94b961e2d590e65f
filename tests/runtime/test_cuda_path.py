"""The CUDA path written for GPU serving, tested without a GPU: provider entries and options from fake
provider lists, IO-bound chains of models (the same code binds host memory on the CPU provider), session
creation against a simulated onnxruntime-gpu (CUDA starts, or its libraries are missing), the preload of
pip-installed NVIDIA libraries, and free device memory through a fake CUDA runtime."""
import ctypes
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import imgadapt
from imgadapt import _chain, _session
from imgadapt.errors import InputValueError, ProviderError

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


# --------------------------------------------------------------------------------------------
# Session creation on "CUDA", simulated: onnxruntime is the CPU build here, so its InferenceSession is
# replaced by a factory that records the providers argument and behaves like onnxruntime-gpu would
# (CUDA starts; CUDA's libraries are missing and onnxruntime logs it and runs on the CPU; or it raises).

MISSING = "libcublasLt.so.13: cannot open shared object file: No such file or directory"
ORT_ERROR = ("/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1952 onnxruntime::Provider& "
             "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library "
             f"libonnxruntime_providers_cuda.so with error: {MISSING}")


@pytest.fixture
def fresh_process(monkeypatch):
    """The CUDA-path state of a process that has not created a session yet."""
    for name, value in (("_fallback_warned", False), ("_cuda_failure", None), ("_preloaded", False),
                        ("_preload_error", None), ("_cudart_handle", None), ("_cache", {})):
        monkeypatch.setattr(_session, name, value)


class _OnCuda:
    """A real CPU session that reports running on CUDA, as a started CUDA session does."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def get_providers(self):
        return [CUDA, CPU]


@pytest.fixture
def fake_gpu_ort(monkeypatch, fresh_process):
    """``fake_gpu_ort(mode)``: onnxruntime lists CUDA; creating a session with it ``"starts"``, runs on the
    CPU without an error (``"silent"``, what onnxruntime does when it cannot load its CUDA library), or
    raises onnxruntime's loader error (``"raise"``). Returns the list of ``providers`` arguments seen."""
    ort = _session.ort()
    real = ort.InferenceSession
    calls = []

    def install(mode):
        def factory(model, options=None, providers=None, **kwargs):
            calls.append(providers)
            names = [p[0] if isinstance(p, tuple) else p for p in providers]
            if CUDA in names and mode == "raise":
                from onnxruntime.capi.onnxruntime_pybind11_state import Fail
                raise Fail(ORT_ERROR)
            session = real(model, options, providers=[CPU])
            return _OnCuda(session) if CUDA in names and mode == "starts" else session

        monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
        monkeypatch.setattr(ort, "InferenceSession", factory)
        # what loading the CUDA provider library says on a machine without libcublasLt (only asked
        # when onnxruntime fell back without an error)
        monkeypatch.setattr(_session, "_probe_provider_library", lambda provider: MISSING)
        return calls

    return install


def _cuda_entry(providers):
    return next(p for p in providers if isinstance(p, tuple) and p[0] == CUDA)


def test_tf32_is_off_in_the_options_that_reach_inference_session(fake_gpu_ort, installed):
    calls = fake_gpu_ort("starts")
    model = imgadapt.load("demosaic/conv", threads=1)
    assert "on CUDAExecutionProvider" in repr(model)
    name, options = _cuda_entry(calls[0])
    assert options["use_tf32"] == 0 and _session.CUDA_OPTIONS["use_tf32"] == 0
    assert options["cudnn_conv_algo_search"] == "HEURISTIC" and options["device_id"] == 0
    assert calls[0][1:] == [CPU]
    # an override still wins, for whoever measures TF32 on purpose
    assert _session.provider_entries([CUDA], cuda_options={"use_tf32": 1})[0][1]["use_tf32"] == 1


@pytest.mark.parametrize("mode", ["silent", "raise"])
def test_missing_cuda_libraries_fall_back_to_the_cpu_with_one_warning(fake_gpu_ort, installed, caplog, mode):
    calls = fake_gpu_ort(mode)
    mosaic = np.random.default_rng(0).random((16, 20), dtype=np.float32)
    with caplog.at_level("INFO", logger="imgadapt"):
        demosaic = imgadapt.load("demosaic/conv", threads=1, tile=8)
        out = demosaic(mosaic, pattern="RGGB")  # several tiles
        edges = imgadapt.load("edges/conv", threads=1)
        edges(np.zeros((12, 12, 3), np.float32))
        imgadapt.load("demosaic/conv", threads=2)
    assert out.shape == (16, 20, 3) and np.isfinite(out).all()
    assert demosaic.session.get_providers()[0] == CPU and edges.session.get_providers()[0] == CPU
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "CUDAExecutionProvider failed to start: libcublasLt.so.13 is missing" in warnings[0]
    assert "running on CPUExecutionProvider instead" in warnings[0] and "imgadapt[gpu]" in warnings[0]
    # CUDA was tried once: later sessions of the process go straight to the CPU, as the loader
    # would not find the library now either
    assert sum(any(isinstance(p, tuple) for p in c) for c in calls) == 1
    assert "skips CUDAExecutionProvider" in caplog.text


@pytest.mark.parametrize("mode", ["silent", "raise"])
@pytest.mark.parametrize("providers", [None, ["cuda"]])
def test_strict_raises_naming_the_missing_library(fake_gpu_ort, installed, caplog, mode, providers):
    fake_gpu_ort(mode)
    with pytest.raises(ProviderError, match=r"CUDAExecutionProvider failed to start for .*conv.onnx: "
                                            r"libcublasLt\.so\.13 is missing.*strict=True does not fall back"):
        imgadapt.load("demosaic/conv", providers=providers, strict=True)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # and again for the next model, now without asking onnxruntime
    with pytest.raises(ProviderError, match=r"libcublasLt\.so\.13 is missing"):
        imgadapt.load("edges/conv", providers=providers, strict=True)


@pytest.mark.parametrize("mode", ["silent", "raise"])
def test_explicit_cuda_without_strict_falls_back_like_the_default(fake_gpu_ort, installed, caplog, mode):
    fake_gpu_ort(mode)
    model = imgadapt.load("edges/conv", providers=["cuda"])
    assert model.session.get_providers()[0] == CPU
    assert "libcublasLt.so.13 is missing" in caplog.text


def test_a_model_error_is_not_taken_for_a_provider_failure(fake_gpu_ort, monkeypatch, caplog):
    fake_gpu_ort("starts")

    def broken(*args, **kwargs):
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidProtobuf
        raise InvalidProtobuf("[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Protobuf parsing failed.")

    monkeypatch.setattr(_session.ort(), "InferenceSession", broken)
    with pytest.raises(Exception, match="INVALID_PROTOBUF"):
        _session.get_session("k", lambda: b"", [CUDA, CPU], 1)
    assert "WARNING" not in caplog.text


def test_the_fall_back_is_named_when_the_library_loads_but_cuda_does_not_start(fake_gpu_ort, caplog, model_dir,
                                                                              monkeypatch):
    fake_gpu_ort("silent")
    monkeypatch.setattr(_session, "_probe_provider_library", lambda provider: None)
    path = str(model_dir / "edges/conv.onnx")
    session = _session.get_session(path, lambda: open(path, "rb").read(), [CUDA, CPU], 1)
    assert session.get_providers() == [CPU]
    assert "without an error (no NVIDIA driver or GPU?)" in caplog.text
    assert _session._cuda_failure is None  # not a missing library: the next model tries CUDA again


# --------------------------------------------------------------------------------------------
# What a missing library looks like: onnxruntime's message, and the dynamic loader's own


def test_the_missing_library_is_read_from_loader_messages():
    assert _session.missing_library(ORT_ERROR) == "libcublasLt.so.13"
    assert _session.missing_library(
        'Error loading "C:\\x\\onnxruntime_providers_cuda.dll" which depends on "cudnn64_9.dll" which is missing. '
        "(Error 126: \"The specified module could not be found.\")") == "cudnn64_9.dll"
    assert _session.missing_library("CUDA failure 100: no CUDA-capable device is detected") is None


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("cc") is None,
                    reason="builds two shared libraries with a C compiler on Linux")
def test_the_provider_library_probe_reports_the_dependency_the_loader_misses(tmp_path, monkeypatch):
    """A stand-in libonnxruntime_providers_cuda.so that needs a library which is gone: glibc's message
    names it, as it names libcublasLt.so.13 on a machine without the CUDA libraries."""
    src, dep, capi = tmp_path / "empty.c", tmp_path / "dep", tmp_path / "onnxruntime" / "capi"
    dep.mkdir()
    capi.mkdir(parents=True)
    src.write_text("int imgadapt_probe_symbol(void) { return 1; }\n")
    gone = "libimgadapt_gone_cublasLt.so.13"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(dep / gone), f"-Wl,-soname,{gone}", str(src)], check=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(capi / "libonnxruntime_providers_cuda.so"), str(src),
                    "-Wl,--no-as-needed", f"-L{dep}", f"-l:{gone}"], check=True)
    (dep / gone).unlink()
    package = SimpleNamespace(__file__=str(tmp_path / "onnxruntime" / "__init__.py"))
    monkeypatch.setattr(_session, "ort", lambda: package)
    text = _session._probe_provider_library(CUDA)
    assert _session.missing_library(text) == gone
    assert _session._probe_provider_library(CPU) is None


# --------------------------------------------------------------------------------------------
# NVIDIA libraries from pip: onnxruntime.preload_dlls() once, before the first CUDA session


@pytest.fixture
def preload_calls(fake_gpu_ort, monkeypatch):
    calls = fake_gpu_ort("starts")
    ort = _session.ort()
    monkeypatch.setattr(_session, "_nvidia_wheels_present", lambda: True)
    monkeypatch.setattr(ort, "preload_dlls", lambda *a, **k: calls.append("preload_dlls"), raising=False)
    return calls


def test_preload_dlls_runs_once_before_the_first_cuda_session(preload_calls, installed):
    imgadapt.load("demosaic/conv")
    imgadapt.load("edges/conv")
    assert preload_calls[0] == "preload_dlls" and preload_calls.count("preload_dlls") == 1
    assert len(preload_calls) == 3


def test_no_preload_for_the_cpu_nor_without_nvidia_wheels(preload_calls, installed, monkeypatch):
    imgadapt.load("demosaic/conv", providers=["cpu"])
    assert "preload_dlls" not in preload_calls
    monkeypatch.setattr(_session, "_nvidia_wheels_present", lambda: False)
    imgadapt.load("edges/conv")
    assert "preload_dlls" not in preload_calls and _session._preloaded


def test_no_preload_where_onnxruntime_lacks_it(preload_calls, installed, monkeypatch):
    monkeypatch.delattr(_session.ort(), "preload_dlls")
    model = imgadapt.load("demosaic/conv")
    assert "preload_dlls" not in preload_calls and model.session.get_providers()[0] == CUDA


def test_a_failed_preload_is_logged_not_raised_and_named_if_cuda_then_fails(fake_gpu_ort, installed, monkeypatch,
                                                                             caplog):
    fake_gpu_ort("silent")
    monkeypatch.setattr(_session, "_nvidia_wheels_present", lambda: True)

    def preload_dlls(*args, **kwargs):
        raise OSError("libcudnn.so.9: cannot open shared object file")

    monkeypatch.setattr(_session.ort(), "preload_dlls", preload_dlls, raising=False)
    with caplog.at_level("INFO", logger="imgadapt"):
        model = imgadapt.load("demosaic/conv")
    assert model.session.get_providers()[0] == CPU
    warning, = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "libcublasLt.so.13 is missing" in warning and "onnxruntime.preload_dlls() failed: OSError" in warning


def test_nvidia_wheels_are_recognised_by_their_packages(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "nvidia" or m.startswith("nvidia.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p])  # no other nvidia on the path than ours
    if _session._nvidia_wheels_present():
        pytest.skip("NVIDIA's pip packages are installed in this environment")
    # the layout of nvidia-cuda-runtime 13 (onnxruntime-gpu's `cuda` extra): namespace folders, no __init__.py
    (tmp_path / "nvidia" / "cu13" / "lib").mkdir(parents=True)
    (tmp_path / "nvidia" / "cu13" / "lib" / "libcudart.so.13").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert _session._nvidia_wheels_present()
    finally:
        for name in [m for m in sys.modules if m == "nvidia" or m.startswith("nvidia.")]:
            del sys.modules[name]


# --------------------------------------------------------------------------------------------
# Free device memory for a tile policy, through a fake CUDA runtime


class _FakeCudart:
    """cudaGetDevice / cudaSetDevice / cudaMemGetInfo as ctypes calls them (pointers from ctypes.byref)."""

    def __init__(self, free=5 << 30, status=0):
        self.free, self.status, self.current, self.queried = free, status, 3, []

    def cudaGetDevice(self, device):
        device._obj.value = self.current
        return 0

    def cudaSetDevice(self, device):
        self.current = device
        return 0

    def cudaMemGetInfo(self, free, total):
        self.queried.append(self.current)
        free._obj.value, total._obj.value = self.free, 141 << 30
        return self.status


def test_device_free_bytes_asks_the_cuda_runtime_for_the_sessions_device(monkeypatch, fresh_process):
    cudart = _FakeCudart()
    monkeypatch.setattr(_session, "_cudart", lambda: cudart)
    assert _session.device_free_bytes(0) == 5 << 30
    assert _session.device_free_bytes(_FakeSession(CUDA, device_id=1)) == 5 << 30
    assert cudart.queried == [0, 1] and cudart.current == 3  # the thread's device is restored
    assert _session.device_free_bytes(_FakeSession(CPU)) is None
    cudart.status = 2  # cudaErrorMemoryAllocation, or any other failure
    assert _session.device_free_bytes(0) is None


def test_device_free_bytes_is_none_without_a_cuda_runtime(monkeypatch, fresh_process):
    monkeypatch.setattr(_session, "_cudart", lambda: None)
    assert _session.device_free_bytes(0) is None
    for bad in (-1, True, "cuda:0"):
        with pytest.raises(InputValueError, match="device_free_bytes: expected a session or a device number"):
            _session.device_free_bytes(bad)


def test_the_cuda_runtime_already_in_the_process_is_preferred(monkeypatch, fresh_process):
    tried = []

    def cdll(name, mode=ctypes.DEFAULT_MODE):
        tried.append((name, mode))
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(_session.ctypes, "CDLL", cdll)
    assert _session._cudart() is None
    if hasattr(os, "RTLD_NOLOAD"):  # first only a runtime already loaded (by onnxruntime), then any
        assert tried[0][1] & os.RTLD_NOLOAD and not tried[-1][1] & os.RTLD_NOLOAD
    assert {name for name, _ in tried} == set(_session._CUDART_NAMES)
