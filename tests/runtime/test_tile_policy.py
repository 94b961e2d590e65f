"""The tile policy (tile="auto"): whole frames while one call fits a memory budget of the model's
device, the largest fitting tiles above it; CUDA sessions faked (their provider list) and free memory
monkeypatched, the calls still running on the CPU."""
import numpy as np
import pytest

import imgadapt
from imgadapt import _budget, _chain, _onnx_proto as P, _session

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


class _FakeCuda:
    """A CPU session that says it runs on CUDA device ``device_id`` (onnxruntime's view of a GPU session)."""

    def __init__(self, real, device_id=1):
        self._real, self.device_id, self.shapes = real, device_id, []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def get_providers(self):
        return [CUDA, CPU]

    def get_provider_options(self):
        return {CUDA: {"device_id": str(self.device_id)}, CPU: {}}

    def io_binding(self):
        binding = self._real.io_binding()
        original, shapes = binding.bind_input, self.shapes

        def bind_input(name, device, device_id, dtype, shape, ptr):
            shapes.append(tuple(shape))
            return original(name, device, device_id, dtype, shape, ptr)
        binding.bind_input = bind_input
        return binding


def _on_fake_cuda(model, device_id=1):
    model.session = _FakeCuda(model.session, device_id)
    model.device = _chain.binding_device(model.session)
    assert model.device == "cuda" and model._device_id() == device_id
    model._graph_io = False  # the per-pixel work stays on the host: this machine has no CUDA
    return model.session


def test_auto_tile_whole_frames_batches_and_tiles():
    # fits: whole frames, as many per call as the budget holds
    assert _budget.auto_tile(10_000_000, 100.0, 8, 2, (100, 100), frames=5) == (0, 5)
    assert _budget.auto_tile(10_000_000, 100.0, 8, 2, (100, 100), frames=50) == (0, 10)
    # does not fit: the largest tiles whose window (halo included) fits, one frame per call
    tile, per_call = _budget.auto_tile(10_000_000, 100.0, 8, 2, (1000, 1000))
    assert per_call == 1 and tile == 300 and (tile + 16) ** 2 * 100 <= 10_000_000
    assert _budget.auto_tile(10, 100.0, 8, 2, (1000, 1000))[0] == _budget.MIN_TILE
    # free memory unknown: the fixed tiles of before
    assert _budget.auto_tile(None, 100.0, 8, 2, (5000, 5000)) == (_budget.FALLBACK_TILE, 1)
    # a batch call never takes more than MAX_CALL_PIXELS
    frames = _budget.auto_tile(10 ** 15, 1.0, 0, 1, (1000, 1000), frames=1000)[1]
    assert frames == _budget.MAX_CALL_PIXELS // 1_000_000


def test_budget_asks_cuda_for_its_free_memory_and_takes_a_fraction(monkeypatch):
    asked = []
    monkeypatch.setattr(_session, "device_free_bytes", lambda device: asked.append(device) or 8 << 30)
    assert _budget.budget_bytes("cuda", 3) == int((8 << 30) * _budget.CUDA_FRACTION) and asked == [3]
    monkeypatch.setattr(_session, "device_free_bytes", lambda device: None)
    assert _budget.budget_bytes("cuda") is None

    def broken(device):
        raise RuntimeError("no driver")
    monkeypatch.setattr(_session, "device_free_bytes", broken)
    assert _budget.budget_bytes("cuda") is None
    monkeypatch.setattr(_budget, "host_available_bytes", lambda: 1000)
    assert _budget.budget_bytes("cpu") == int(1000 * _budget.HOST_FRACTION)


def test_host_memory_is_read_from_the_system():
    free = _budget.host_available_bytes()
    assert free is None or free > 0


@pytest.mark.parametrize("free,whole", [(64 << 30, True), (2 << 20, False)])
def test_cuda_runs_whole_frames_while_they_fit_and_tiles_above(installed, rng, monkeypatch, free, whole):
    model = imgadapt.load("demosaic/conv")  # tile="auto"
    monkeypatch.setattr(_budget, "FALLBACK_TILE", 64)  # frames within one such tile skip the question
    asked = []
    monkeypatch.setattr(_session, "device_free_bytes", lambda device: asked.append(device) or free)
    monkeypatch.setattr(_budget, "host_available_bytes", lambda: pytest.fail("the CPU's memory was asked"))
    fake = _on_fake_cuda(model, device_id=1)
    mosaic = rng.integers(0, 65536, (300, 260)).astype(np.uint16)
    out = model(mosaic, "GBRG")
    assert asked and set(asked) == {1}
    pad = model.halo + model.halo % 2
    if whole:
        assert len(fake.shapes) == 1 and fake.shapes[0][2] >= 300 + 2 * pad and fake.shapes[0][3] >= 260 + 2 * pad
    else:
        assert len(fake.shapes) > 1
        window = max(max(s[2], s[3]) for s in fake.shapes)
        job = model._job([mosaic], model._options({}))
        assert window ** 2 * model._bytes_per_pixel(job) <= free * _budget.CUDA_FRACTION
    untiled = imgadapt.load("demosaic/conv", providers=["cpu"], tile=0)(mosaic, "GBRG")
    np.testing.assert_array_equal(out, untiled)


def test_cuda_with_unknown_free_memory_falls_back_to_fixed_tiles(installed, rng, monkeypatch):
    model = imgadapt.load("edges/conv")
    monkeypatch.setattr(_session, "device_free_bytes", lambda device: None)
    monkeypatch.setattr(_budget, "FALLBACK_TILE", 32)
    fake = _on_fake_cuda(model)
    image = rng.random((70, 90, 3)).astype(np.float32)
    out = model(image)
    assert len(fake.shapes) == 3 * 3 and max(s[2] for s in fake.shapes) <= 32 + 2 * (model.halo + 1)
    np.testing.assert_array_equal(out, imgadapt.load("edges/conv", tile=0)(image))


def test_cuda_batches_take_as_many_frames_as_the_budget_holds(installed, rng, monkeypatch, tmp_path):
    onnx = pytest.importorskip("onnx")
    from tests.runtime.conftest import conv_stack_onnx, register

    m = onnx.load_from_string(conv_stack_onnx(3, 1, sigmoid=True))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "n"
    register(tmp_path, "edges/conv", "edges", m.SerializeToString(), input={"channels": 3}, receptive_field=9)
    model = imgadapt.load("edges/conv")
    stack = rng.random((10, 20, 20, 3)).astype(np.float32)
    job = model._job([stack[0]], model._options({}))
    side = 20 + 2 * model.halo  # the extended frame (multiple 1)
    per_frame = side * side * model._bytes_per_pixel(job)
    monkeypatch.setattr(_session, "device_free_bytes", lambda device: int(per_frame * 3.5 / _budget.CUDA_FRACTION))
    fake = _on_fake_cuda(model)
    out = model.batch(stack)
    assert [s[0] for s in fake.shapes] == [3, 3, 3, 1]
    np.testing.assert_array_equal(out, np.stack([model(f) for f in stack]))


def test_the_cpu_policy_uses_the_hosts_available_memory(installed, rng, monkeypatch):
    model = imgadapt.load("demosaic/conv")
    monkeypatch.setattr(_budget, "FALLBACK_TILE", 64)
    assert model.device == "cpu" and model.tile == "auto"
    mosaic = rng.random((200, 180)).astype(np.float32)
    job = model._job([mosaic], model._options({}))
    monkeypatch.setattr(_budget, "host_available_bytes", lambda: 10 << 30)
    assert model._plan((216, 196), 1, job) == (0, 1)
    monkeypatch.setattr(_budget, "host_available_bytes", lambda: 200_000)
    tile, _ = model._plan((216, 196), 1, job)
    assert 0 < tile < 200
    np.testing.assert_array_equal(model(mosaic), imgadapt.load("demosaic/conv", tile=0)(mosaic))


def test_explicit_tiles_ignore_the_budget(installed, monkeypatch):
    monkeypatch.setattr(_budget, "host_available_bytes", lambda: pytest.fail("asked for memory"))
    model = imgadapt.load("demosaic/conv", tile=64)
    job = model._job([np.zeros((8, 8), np.float32)], model._options({}))
    assert model._plan((500, 500), 1, job) == (64, 1)


def test_tile_option(installed):
    assert imgadapt.load("demosaic/conv").tile == "auto"
    assert imgadapt.load("demosaic/conv", tile=None).tile is None
    with pytest.raises(imgadapt.InputDtypeError, match='tile: expected "auto", None or an integer >= 0, got str'):
        imgadapt.load("demosaic/conv", tile="whole")


# ---------------------------------------------------------------------------------------------
# the memory estimate


def test_memory_estimate_of_a_conv_stack(model_dir):
    from tests.runtime.conftest import conv_stack_onnx

    # x (1) -> conv (4) -> relu (4) -> conv (3): conv and relu outputs alive together at the peak
    assert _budget.floats_per_pixel(conv_stack_onnx(1, 3), 1) == 8
    # x2 depth-to-space: a 12-channel low-resolution tensor becomes 3 channels at 4x the area
    assert _budget.floats_per_pixel(conv_stack_onnx(3, 3, scale=2), 3) == 24


def test_memory_estimate_follows_strides_and_frees_dead_tensors():
    w = np.zeros((8, 1, 2, 2), np.float32)
    v = np.zeros((8, 8, 3, 3), np.float32)
    data = P.model(P.graph(
        [P.node("Conv", ["x", "w"], ["a"], strides=[2, 2]),   # 8 channels at a quarter of the area: 2
         P.node("Relu", ["a"], ["b"]),                        # a and b: 4
         P.node("Conv", ["b", "v"], ["c"]),                   # b and c: 4
         P.node("Shape", ["c"], ["s"]),                       # shapes cost nothing
         P.node("Add", ["c", "b"], ["y"])],                   # b, c and y: 6
        "g", [P.value_info("x", P.FLOAT, [1, 1, "h", "w"])], [P.value_info("y", P.FLOAT)],
        [P.tensor("w", w), P.tensor("v", v)]))
    assert _budget.floats_per_pixel(data, 1) == 6


def test_memory_estimate_of_the_shipped_models_is_plausible():
    """Measured with the resident-set high-water mark of whole-frame runs (2 MP, CPU): between 32 and 200
    floats per pixel, about 400 for sr/pafu-espcn-x3 (its PAFU output evaluates all 16 kernels at 9
    sub-pixels each), 360 and 560 for sr/pafu-linear-x3 and -x4 (27 and 25 kernels at 9 and 16
    sub-pixels); the estimates lie within 0.6 and 1.4 times those, and at about twice them for the
    two linear upscalers (see imgadapt._budget): an over-estimate only makes tiles smaller."""
    for name in imgadapt.list_models():
        model = imgadapt.load(name, providers=["cpu"])
        estimate = _budget.floats_per_pixel(model._registry.verified_bytes(model.card), model.in_channels)
        assert 15 < estimate < 1500, (name, estimate)


def test_a_frame_within_one_fixed_tile_runs_whole_without_asking(installed, rng, monkeypatch):
    monkeypatch.setattr(_budget, "device_free_bytes", lambda *a: pytest.fail("asked for memory"))
    model = imgadapt.load("demosaic/conv")
    assert model(rng.random((100, 80)).astype(np.float32)).shape == (100, 80, 3)
