"""``imgadapt export`` end to end on a tiny checkpoint: files, report, metadata, runtime, failures."""
import json

import cv2
import numpy as np
import pytest
import torch

from _export_helpers import broken
from export.nets import create
from imgadapt import cli
from imgadapt._model import load_from
from imgadapt._registry import Registry

FAST = ["--bench-size", "32", "--bench-runs", "1"]


def _checkpoint(tmp_path):
    model = create("sr/pafu-linear-tiny-x2")
    path = tmp_path / "tiny.pt"
    torch.save({"arch": "sr/pafu-linear-tiny-x2", "config": {}, "state_dict": model.state_dict()}, path)
    return path


def _calibration_folder(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        img = cv2.GaussianBlur(rng.integers(0, 256, (100, 120, 3)).astype(np.uint8), (0, 0), 2)
        cv2.imwrite(str(folder / f"{i}.png"), img)
    return folder


def test_export_writes_a_verified_model_the_runtime_serves(tmp_path, capsys):
    out, report = tmp_path / "out" / "sr" / "tiny-x2.onnx", tmp_path / "report.json"
    code = cli.main(["export", str(_checkpoint(tmp_path)), "-o", str(out), "--calib", str(_calibration_folder(tmp_path)),
                     "--report", str(report), "--fp16", *FAST])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads(report.read_text())
    card = json.loads(out.with_suffix(".json").read_text())
    assert printed["onnx_sha256"] == card["onnx_sha256"]
    assert card["export"] == dict(summary, fp16=dict(summary["fp16"], onnx_sha256=card["export"]["fp16"]["onnx_sha256"]))
    assert summary["calibration"]["source"] == "2 images of calib" and "change_db" in summary["calibration"]["metric"]
    assert out.with_suffix(".fp16.onnx").is_file()
    model = load_from(Registry([tmp_path / "out"]), "sr/pafu-linear-tiny-x2")
    assert model(np.zeros((10, 12), np.uint8)).shape == (20, 24)


def test_an_unknown_model_name_exits_non_zero_naming_what_was_expected(tmp_path, caplog):
    assert cli.main(["export", "demosaic/no-such-model", "-o", str(tmp_path / "x.onnx")]) == 2
    assert "expected a shipped model name" in caplog.text and "no-such-model" in caplog.text


def test_a_failed_verification_exits_non_zero_and_writes_nothing(tmp_path, monkeypatch, caplog):
    import export.onnx.graph

    simplify = export.onnx.graph.simplify
    monkeypatch.setattr(export.onnx.graph, "simplify", lambda data: broken(simplify(data)))
    out = tmp_path / "x.onnx"
    assert cli.main(["export", str(_checkpoint(tmp_path)), "-o", str(out), *FAST]) == 2
    assert "expected |onnxruntime - torch|" in caplog.text and not out.exists()


def test_help_lists_the_switches(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["export", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(s in text for s in ("--no-shrink-envelope", "--no-collapse-pafu", "--fp16", "--calib", "--report"))


def test_calibration_images_smaller_than_a_tile_are_refused(tmp_path, caplog):
    folder = tmp_path / "small"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((40, 50, 3), np.uint8))
    assert cli.main(["export", str(_checkpoint(tmp_path)), "-o", str(tmp_path / "x.onnx"), "--calib", str(folder)]) == 2
    assert "expected images of at least 96x96 pixels, got 50x40" in caplog.text
