"""Model.batch: lists and stacked arrays of frames in batched network calls, equal to single calls."""
import numpy as np
import pytest

import imgadapt
from imgadapt._registry import Registry
from tests.runtime.conftest import conv_stack_onnx, register


@pytest.fixture
def batched(tmp_path, monkeypatch):
    """The fixture models with a free batch axis (the shipped ones have one; the fixtures fix it to 1)."""
    onnx = pytest.importorskip("onnx")

    def free_batch(data):
        model = onnx.load_from_string(data)
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "n"
        return model.SerializeToString()
    register(tmp_path, "demosaic/conv", "demosaic", free_batch(conv_stack_onnx(1, 3)),
             input={"channels": 1, "pattern": "RGGB", "multiple": 2}, receptive_field=9, default_rank=1)
    register(tmp_path, "sr/conv-x2", "sr", free_batch(conv_stack_onnx(3, 3, scale=2)), input={"channels": 3},
             scale=2, receptive_field=9)
    register(tmp_path, "edges/conv", "edges", free_batch(conv_stack_onnx(3, 1, sigmoid=True)),
             input={"channels": 3}, receptive_field=9)
    import imgadapt._model as m

    monkeypatch.setattr(m, "_registry", Registry([tmp_path]))
    monkeypatch.setattr(m, "_loaded_models", {})
    return tmp_path


class _SpySession:
    """The model's session, recording the input shape of every network call."""

    def __init__(self, real, shapes):
        self._real, self._shapes = real, shapes

    def __getattr__(self, name):
        return getattr(self._real, name)

    def run_with_iobinding(self, binding, *args):
        return self._real.run_with_iobinding(binding, *args)

    def io_binding(self):
        binding = self._real.io_binding()
        shapes = self._shapes
        original = binding.bind_input

        def bind_input(name, device, device_id, dtype, shape, ptr):
            shapes.append(tuple(shape))
            return original(name, device, device_id, dtype, shape, ptr)
        binding.bind_input = bind_input
        return binding


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_stacked_batch_equals_single_calls_in_one_network_call(batched, rng, monkeypatch, dtype):
    model = imgadapt.load("demosaic/conv", tile=128)
    stack = (rng.random((5, 30, 40)) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    if dtype == np.uint16:
        stack = rng.integers(0, 65536, (5, 30, 40)).astype(np.uint16)
    singles = np.stack([model(f, "GRBG") for f in stack])
    shapes = []
    monkeypatch.setattr(model, "session", _SpySession(model.session, shapes))
    out = model.batch(stack, pattern="GRBG")
    assert isinstance(out, np.ndarray) and out.shape == (5, 30, 40, 3) and out.dtype == dtype
    np.testing.assert_array_equal(out, singles)
    assert len(shapes) == 1 and shapes[0][0] == 5  # five frames, one call


def test_a_list_of_mixed_frames_comes_back_in_order(batched, rng):
    model = imgadapt.load("sr/conv-x2", tile=0)
    frames = [rng.integers(0, 256, (12, 14, 3)).astype(np.uint8), rng.random((9, 7)).astype(np.float32),
              rng.integers(0, 256, (12, 14, 3)).astype(np.uint8), rng.random((9, 7, 1)).astype(np.float32)]
    out = model.batch(frames)
    assert isinstance(out, list) and len(out) == 4
    for frame, result in zip(frames, out):
        expected = model(frame)
        assert result.shape == expected.shape and result.dtype == expected.dtype
        np.testing.assert_array_equal(result, expected)
    assert out[3].shape == (18, 14, 1)  # HxWx1 keeps its axis, as in a single call
    assert model.batch([]) == []


def test_batches_are_cut_to_the_frames_one_call_may_take(batched, rng, monkeypatch):
    """A fixed tile bounds a call to one tile's window: frames of a quarter of it go four at a time."""
    model = imgadapt.load("edges/conv", tile=24)
    halo = model.halo + model.halo % model.multiple
    side = (24 + 2 * halo) // 2 - 2 * halo
    stack = rng.random((9, side, side)).astype(np.float32)
    shapes = []
    monkeypatch.setattr(model, "session", _SpySession(model.session, shapes))
    out = model.batch(stack)
    np.testing.assert_array_equal(out, np.stack([model(f) for f in stack]))
    assert [s[0] for s in shapes][:3] == [4, 4, 1]


def test_large_frames_in_a_batch_are_tiled_one_at_a_time(batched, rng):
    model = imgadapt.load("demosaic/conv", tile=16)
    stack = rng.random((3, 50, 44)).astype(np.float32)
    np.testing.assert_array_equal(model.batch(stack, pattern="BGGR"),
                                  np.stack([imgadapt.load("demosaic/conv", tile=0)(f, "BGGR")
                                            for f in stack]))


def test_edges_batch_with_thin_edges(batched, rng):
    model = imgadapt.load("edges/conv", tile=0)
    stack = rng.integers(0, 256, (3, 20, 24, 3)).astype(np.uint8)
    thin = model.batch(stack, thin=True, threshold=0.3)
    assert thin.dtype == np.uint8 and thin.shape == (3, 20, 24)
    np.testing.assert_array_equal(thin, np.stack([model(f, thin=True, threshold=0.3) for f in stack]))
    np.testing.assert_array_equal(model.batch(list(stack))[1], model(stack[1]))


def test_batch_checks_every_frame_and_names_it(batched, rng):
    model = imgadapt.load("demosaic/conv")
    good = rng.random((8, 8)).astype(np.float32)
    with pytest.raises(imgadapt.InputValueError, match=r"frames\[1\]: expected finite values"):
        model.batch([good, np.full((8, 8), np.nan, np.float32)])
    with pytest.raises(imgadapt.InputDtypeError, match=r"frames\[0\]: expected dtype"):
        model.batch([good.astype(np.int64)])
    with pytest.raises(imgadapt.InputValueError, match=r"frames\[2\]: expected values up to white_level"):
        model.batch([np.zeros((8, 8), np.uint16)] * 2 + [np.full((8, 8), 5000, np.uint16)], white_level=4095)
    with pytest.raises(imgadapt.UnknownNameError, match="Bayer pattern"):
        model.batch([good], pattern="XYZW")
    with pytest.raises(imgadapt.InputShapeError, match="stacked"):
        model.batch(good)
    with pytest.raises(imgadapt.InputSizeError, match="at least one frame"):
        model.batch(np.zeros((0, 8, 8), np.float32))
    with pytest.raises(imgadapt.InputDtypeError, match="a list of frames"):
        model.batch("frames")


def test_a_model_with_a_fixed_batch_size_gets_one_frame_per_call(installed, rng, monkeypatch):
    model = imgadapt.load("demosaic/conv", tile=0)  # the fixture's input is (1, 1, h, w)
    stack = rng.random((3, 10, 12)).astype(np.float32)
    shapes = []
    monkeypatch.setattr(model, "session", _SpySession(model.session, shapes))
    np.testing.assert_array_equal(model.batch(stack), np.stack([model(f) for f in stack]))
    assert [s[0] for s in shapes] == [1, 1, 1, 1, 1, 1]
