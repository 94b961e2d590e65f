import json

import numpy as np
import pytest

from imgadapt import bayer, cli
from imgadapt.bench import demosaic_eval, edges_eval, evaluate, sr_eval
from imgadapt._io import write_array
from imgadapt.bench.peers import vng_then_nlm
from imgadapt.bench.method import Method


def test_noisy_mosaic_is_seeded_and_scaled(rng):
    mos = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    a = demosaic_eval.noisy_mosaic(mos, 1e-3, 1e-5, seed=1)
    np.testing.assert_array_equal(a, demosaic_eval.noisy_mosaic(mos, 1e-3, 1e-5, seed=1))
    assert not np.array_equal(a, demosaic_eval.noisy_mosaic(mos, 1e-3, 1e-5, seed=2))
    flat = np.full((200, 200), 128, np.uint8)
    sd = demosaic_eval.noisy_mosaic(flat, 4e-3, 0.0).astype(float).std() / 255
    assert sd == pytest.approx(np.sqrt(4e-3 * 128 / 255), rel=0.05)


def test_vng_then_nlm_reduces_noise():
    y, x = np.mgrid[0:64, 0:64]
    img = np.stack([100 + 0 * x, 120 + x, 90 + y], 2).astype(np.uint8)
    noisy = demosaic_eval.noisy_mosaic(bayer.mosaic(img, "RGGB"), 2e-3, 1e-5)
    plain = np.abs(vng_then_nlm(noisy, "RGGB", h=0.01).astype(float) - img)[8:-8, 8:-8].mean()
    denoised = np.abs(vng_then_nlm(noisy, "RGGB", h=12).astype(float) - img)[8:-8, 8:-8].mean()
    assert denoised < plain


def test_evaluate_rows_and_throughput(installed, tmp_path, rng):
    for i in range(2):
        write_array(tmp_path / f"im{i}.png", rng.integers(0, 256, (40, 48, 3)).astype(np.uint8))
    images = evaluate.load_images(tmp_path)
    rows = demosaic_eval.evaluate_demosaic(images, demosaic_eval.demosaic_methods(["demosaic/conv"], peers=False),
                                       repeats=1)
    assert [r["method"] for r in rows] == ["demosaic/conv"]
    assert set(rows[0]["per_image"]) == {"im0.png", "im1.png"} and rows[0]["mp_s"] > 0


def test_eval_cli_writes_json(installed, tmp_path, rng, capsys):
    write_array(tmp_path / "a.png", rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    out = tmp_path / "rows.json"
    assert cli.main(["eval", "demosaic", "--images", str(tmp_path), "--no-peers", "--repeats", "1",
                     "--json", str(out), "--noise", "0.001,0.00001"]) == 0
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} >= {"demosaic/conv"}
    assert [r["method"] for r in rows] == ["demosaic/conv"]


def test_eval_cli_mosaics_with_the_pattern_asked(installed, tmp_path, rng, monkeypatch):
    write_array(tmp_path / "a.png", rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    seen = []
    real = demosaic_eval.evaluate_demosaic
    monkeypatch.setattr(demosaic_eval, "evaluate_demosaic", lambda *a, **kw: seen.append(kw["pattern"]) or real(*a, **kw))
    assert cli.main(["eval", "demosaic", "--images", str(tmp_path), "--no-peers", "--repeats", "1",
                     "--pattern", "gbrg"]) == 0
    assert seen == ["GBRG"]
    with pytest.raises(SystemExit):
        cli.main(["eval", "demosaic", "--images", str(tmp_path), "--pattern", "RGBG"])


def test_noise_argument_is_checked():
    with pytest.raises(SystemExit):
        cli.main(["eval", "demosaic", "--images", ".", "--noise", "0.1"])


# --------------------------------------------------------------------------------------------
# Super-resolution


def nearest_x2_onnx():
    """A x2 nearest-neighbour upscaler (Resize, nearest) as an ONNX model."""
    pytest.importorskip("onnx", reason="fixture models are built with onnx (dev extra)")
    from onnx import TensorProto, helper, numpy_helper

    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "nearest", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def sr_installed(installed, monkeypatch):
    """The fixture models plus ``sr/nearest-x2``, seen by the public API."""
    import hashlib

    import imgadapt._model as m
    from imgadapt._registry import Registry

    data = nearest_x2_onnx()
    path = installed / "sr" / "nearest-x2.onnx"
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps({
        "name": "sr/nearest-x2", "task": "sr", "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "input": {"channels": 3}, "scale": 2, "receptive_field": 1}))
    monkeypatch.setattr(m, "_registry", Registry([installed]))
    return installed


def test_evaluate_sr_peers_rows(tmp_path, photos):
    images = evaluate.load_images(photos(tmp_path))
    rows = sr_eval.evaluate_sr(images, 2, sr_eval.sr_methods(2, models=[], peers=True), repeats=1)
    assert [r["method"] for r in rows] == ["opencv-bicubic", "opencv-lanczos"]
    for r in rows:
        assert set(r["per_image"]) == {"hr0.png", "hr1.png"} and r["scale"] == 2 and r["mp_s"] > 0
        assert 25 < r["psnr_db"] < 60


def test_evaluate_sr_scores_the_modcropped_image(tmp_path, photos):
    from imgadapt.bench.metrics import y_psnr
    from imgadapt.bench.resize import downscale, modcrop

    (name, image), = evaluate.load_images(photos(tmp_path, shapes=((41, 50),)))
    calls = []

    def nearest(lr):
        calls.append(lr.shape)
        return np.repeat(np.repeat(lr, 3, 0), 3, 1)

    rows = sr_eval.evaluate_sr([(name, image)], 3, {"nearest": Method(nearest, "test")}, repeats=1)
    assert calls[0] == (13, 16, 3)
    hr = modcrop(image, 3)
    expected = y_psnr(nearest(downscale(hr, 3)), hr, crop=3)
    assert rows[0]["per_image"][name] == round(expected, 3)


def test_evaluate_sr_rejects_wrong_output_shape(tmp_path, photos):
    images = evaluate.load_images(photos(tmp_path))
    with pytest.raises(ValueError, match="expected a 2x upscaled image"):
        sr_eval.evaluate_sr(images, 2, {"same": Method(lambda lr: lr, "test")}, repeats=1)


@pytest.mark.parametrize("scale", [1, 9, 2.0, True])
def test_sr_scale_is_checked(scale):
    with pytest.raises(ValueError, match="expected an integer from 2 to 8"):
        sr_eval.sr_methods(scale)
    with pytest.raises(ValueError, match="expected an integer from 2 to 8"):
        sr_eval.evaluate_sr([], scale, {})


def test_sr_methods_take_installed_models_of_the_scale(sr_installed):
    assert set(sr_eval.sr_methods(2, peers=False)) == {"sr/conv-x2", "sr/nearest-x2"}
    assert sr_eval.sr_methods(3, peers=False) == {}
    with pytest.raises(ValueError, match="upscales x2, expected x4"):
        sr_eval.sr_methods(4, models=["sr/conv-x2"])


def test_evaluate_sr_runs_a_model(sr_installed, tmp_path, photos):
    images = evaluate.load_images(photos(tmp_path / "hr"))
    rows = sr_eval.evaluate_sr(images, 2, sr_eval.sr_methods(2, models=["sr/nearest-x2"]), repeats=1)
    by_method = {r["method"]: r for r in rows}
    assert set(by_method) == {"sr/nearest-x2", "opencv-bicubic", "opencv-lanczos"}
    assert by_method["sr/nearest-x2"]["source"] == "imgadapt"
    # nearest neighbour is a worse upscaler than bicubic on smooth images
    assert by_method["sr/nearest-x2"]["psnr_db"] < by_method["opencv-bicubic"]["psnr_db"]


def test_eval_sr_cli_prints_table_and_writes_json(sr_installed, tmp_path, photos, capsys):
    folder = photos(tmp_path / "hr")
    out = tmp_path / "rows.json"
    assert cli.main(["eval", "sr", "--hr", str(folder), "--scale", "2", "--models", "sr/nearest-x2",
                     "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["sr/nearest-x2", "opencv-bicubic", "opencv-lanczos"]
    assert all({"method", "source", "psnr_db", "mp_s", "per_image"} <= set(r) for r in rows)
    printed = capsys.readouterr().out
    assert "Y-PSNR" in printed and "opencv-lanczos" in printed and "sr/nearest-x2" in printed


def test_eval_sr_cli_errors(installed, tmp_path, photos, caplog):
    folder = photos(tmp_path / "hr")
    assert cli.main(["eval", "sr", "--hr", str(folder), "--scale", "1"]) == 2
    assert "expected an integer from 2 to 8, got 1" in caplog.text
    assert cli.main(["eval", "sr", "--hr", str(folder), "--scale", "9"]) == 2
    assert cli.main(["eval", "sr", "--hr", str(folder)]) == 2
    assert "needs --scale" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["eval", "sr", "--hr", str(empty), "--scale", "2"]) == 2
    assert "no colour images" in caplog.text
    assert cli.main(["eval", "sr", "--hr", str(tmp_path / "missing"), "--scale", "2"]) == 2
    assert cli.main(["eval", "sr", "--hr", str(folder), "--scale", "3", "--no-peers"]) == 2
    assert "nothing to measure" in caplog.text


def test_sr_methods_add_each_model_with_its_self_ensemble():
    methods = sr_eval.sr_methods(2, models=["sr/pafu-linear-x2"], peers=False, ensemble=True)
    assert list(methods) == ["sr/pafu-linear-x2", "sr/pafu-linear-x2+ensemble"]
    image = np.random.default_rng(0).integers(0, 256, (12, 14, 3)).astype(np.uint8)
    method = methods["sr/pafu-linear-x2+ensemble"]
    fn, source = method.run, method.source
    assert source == "imgadapt" and fn(image).shape == (24, 28, 3)


def test_every_task_lists_its_peers_as_methods():
    peers = {**demosaic_eval.demosaic_peers(), **sr_eval.sr_peers(2), **edges_eval.edge_peers()}
    assert {"opencv-bilinear", "opencv-bicubic", "opencv-lanczos", "opencv-sobel", "opencv-canny"} <= set(peers)
    assert all(isinstance(m, Method) and m.source for m in peers.values())
