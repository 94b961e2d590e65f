"""``imgadapt train edges/...`` end to end on tiny settings: scenes, balanced loss, export, card, evaluation."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.train import cli as train_cli  # noqa: E402


@pytest.fixture(autouse=True)
def quick_timing(monkeypatch):
    """Shipping times both graph optimisation levels on a 768 px input; a small one does here."""
    from export.onnx import ship

    real = ship.faster_graph_optimization
    monkeypatch.setattr(ship, "faster_graph_optimization", lambda data, channels: real(data, channels, size=32, runs=1))


def _write_images(folder, n, shape, seed):
    import cv2

    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(n):
        img = cv2.GaussianBlur(rng.uniform(0, 255, shape).astype(np.float32), (0, 0), 1.5) * 3 - 255
        cv2.imwrite(str(folder / f"{i}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return folder


@pytest.fixture
def folders(tmp_path):
    from export.train.scenes import load_sources, write_scenes

    data = _write_images(tmp_path / "data", 2, (72, 80, 3), 0)
    textures = _write_images(tmp_path / "textures", 1, (64, 64), 1)
    val = tmp_path / "val"
    write_scenes(load_sources(data), val, count=2, size=40, seed=0)
    return data, textures, val


def test_edge_nets_train_ship_and_report_the_ablation(tmp_path, folders):
    pytest.importorskip("scipy", reason="the boundary evaluation needs scipy")
    data, textures, val = folders
    out, runs = tmp_path / "models", tmp_path / "runs"
    common = ["--data", str(data), "--textures", str(textures), "--val", str(val), "--out", str(out),
              "--runs", str(runs), "--steps", "2", "--batch", "2", "--patch", "24", "--pad", "4", "--threads", "1"]
    assert train_cli.main(["edges/gd-pafu-plain", *common]) == 0
    assert train_cli.main(["edges/gd-pafu", *common]) == 0
    card = json.loads((out / "edges" / "gd-pafu.json").read_text())
    assert card["task"] == "edges" and card["layers"] == ["gaussian_derivative", "pafu"]
    assert card["input"]["channels"] == 1 and card["receptive_field"] == 67 and card["input"]["multiple"] == 4
    assert card["train"]["textures"].endswith("textures") and "balanced" in card["train"]["loss"]
    assert [h["step"] for h in card["train"]["history"]] == [2] and np.isfinite(card["train"]["history"][0]["loss"])
    metrics = card["metrics"]
    methods = {r["method"] for r in metrics["rows"]}
    assert {"edges/gd-pafu", "edges/gd-pafu-plain", "opencv-canny", "opencv-sobel"} <= methods
    assert 0 <= metrics["ods"] <= 1 and metrics["mp_s"] > 0 and metrics["images"] == ["scene_00000.png", "scene_00001.png"]
    assert metrics["ablation"]["counterpart"] == "edges/gd-pafu-plain"
    plain = json.loads((out / "edges" / "gd-pafu-plain.json").read_text())
    assert plain["layers"] == [] and "ablation" not in plain["metrics"] and plain["default_rank"] == 0
    assert plain["metrics"]["ods"] == metrics["ablation"]["ods"]  # both cards carry the figures of one run
    assert plain["metrics"]["rows"] == metrics["rows"]


def test_gd_col_trains_without_validation(tmp_path, folders, caplog):
    data, _, _ = folders
    out = tmp_path / "models"
    assert train_cli.main(["edges/gd-col", "--data", str(data), "--out", str(out), "--runs", str(tmp_path / "runs"),
                           "--steps", "1", "--batch", "1", "--patch", "24", "--pad", "4", "--threads", "1"]) == 0
    card = json.loads((out / "edges" / "gd-col.json").read_text())
    assert card["input"]["multiple"] == 2 and card["receptive_field"] == 47 and "metrics" not in card
    assert card["layers"] == ["gaussian_derivative", "col"] and card["train"]["textures"] is None
    assert card["verification"]["inputs"][1] == [1, 1, 37, 23]
    torch = pytest.importorskip("torch")
    first = torch.load(out / "edges" / "gd-col.pt", weights_only=False)["state_dict"]
    tuned_out = tmp_path / "tuned"
    common = ["--data", str(data), "--out", str(tuned_out), "--runs", str(tmp_path / "runs2"), "--steps", "1",
              "--batch", "1", "--patch", "24", "--pad", "4", "--threads", "1", "--lr", "1e-12"]
    assert train_cli.main(["edges/gd-col", *common, "--init", str(out / "edges" / "gd-col.pt")]) == 0
    tuned = torch.load(tuned_out / "edges" / "gd-col.pt", weights_only=False)["state_dict"]
    for key, value in first.items():  # a vanishing learning rate keeps the starting weights
        torch.testing.assert_close(tuned[key], value, atol=1e-6, rtol=0)
    train = json.loads((tuned_out / "edges" / "gd-col.json").read_text())["train"]
    assert train["init"].endswith("gd-col.pt") and train["init_train"]["command"] == card["train"]["command"]
    assert train_cli.main(["edges/gd-col-plain", *common, "--init", str(out / "edges" / "gd-col.pt")]) == 2
    assert "expected a checkpoint of edges/gd-col-plain" in caplog.text
