"""``imgadapt train`` end to end on tiny settings: train, export, verify, ship; fine-tuning from a network."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.train import records, cli as train_cli  # noqa: E402


@pytest.fixture(autouse=True)
def quick_timing(monkeypatch):
    """Shipping times both graph optimisation levels on a 768 px input; a small one does here."""
    from export.onnx import ship

    real = ship.faster_graph_optimization
    monkeypatch.setattr(ship, "faster_graph_optimization", lambda data, channels: real(data, channels, size=32, runs=1))


@pytest.fixture
def data(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        img = cv2.GaussianBlur(rng.integers(0, 256, (40, 48, 3)).astype(np.float32), (0, 0), 1.2)
        cv2.imwrite(str(folder / f"{i}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return folder


def test_network_fine_tunes_from_a_trained_network(tmp_path, data):
    out, runs = tmp_path / "models", tmp_path / "runs"
    common = ["--data", str(data), "--out", str(out), "--runs", str(runs), "--steps", "1", "--batch", "1",
              "--patch", "16", "--pad", "4", "--threads", "1"]
    assert train_cli.main(["demosaic/pafu-net-plain", *common]) == 0
    base = torch.load(out / "demosaic" / "pafu-net-plain.pt", weights_only=False)
    assert train_cli.main(["demosaic/pafu-net-plain-denoise", *common, "--lr", "1e-12",
                           "--init", str(out / "demosaic" / "pafu-net-plain.pt")]) == 0
    tuned = torch.load(out / "demosaic" / "pafu-net-plain-denoise.pt", weights_only=False)
    for key, value in base["state_dict"].items():  # a vanishing learning rate keeps the starting weights
        if key.startswith("head."):  # the denoiser's head also corrects the 4 measured values, from zero
            torch.testing.assert_close(tuned["state_dict"][key][:8], value, atol=1e-6, rtol=0)
            assert tuned["state_dict"][key][8:].abs().max() < 1e-6
            continue
        torch.testing.assert_close(tuned["state_dict"][key], value, atol=1e-6, rtol=0)
    assert tuned["config"]["denoise"] is True
    card = json.loads((out / "demosaic" / "pafu-net-plain-denoise.json").read_text())
    assert card["train"]["noise"] is True and card["train"]["init"].endswith("pafu-net-plain.pt")
    assert card["default_rank"] == 0


def test_plain_ablation_refuses_a_linear_start(tmp_path, data, caplog):
    out = tmp_path / "models"
    assert train_cli.main(["demosaic/pafu-linear", "--data", str(data), "--out", str(out), "--crops", "4",
                           "--patch", "32", "--rounds", "0", "--selector-epochs", "1", "--threads", "1",
                           "--kernel-sizes", "3x2,5", "--prune-below", "0"]) == 0
    linear = torch.load(out / "demosaic" / "pafu-linear.pt", weights_only=False)
    assert list(linear["config"]["kernel_sizes"]) == [3, 3, 5]
    assert train_cli.main(["demosaic/pafu-net-plain", "--data", str(data), "--out", str(out), "--steps", "1",
                           "--init", str(out / "demosaic" / "pafu-linear.pt"), "--runs", str(tmp_path / "runs")]) == 2
    assert "plain ablation" in caplog.text


def test_kernel_group_option():
    assert train_cli._kernel_sizes("3x16") == (3,) * 16
    assert train_cli._kernel_sizes("3x2,5x1") == train_cli._kernel_sizes("3,3,5") == (3, 3, 5)
    for bad in ("4x2", "3xa", "", "0"):
        with pytest.raises(Exception, match="expected"):
            train_cli._kernel_sizes(bad)


def test_recorded_command_leaves_out_where_files_went(tmp_path):
    (tmp_path / "data").mkdir()
    command = records.command(["sr/pafu-linear-x2", "--data", str(tmp_path / "data"), "--out", str(tmp_path),
                                  "--seed", "0", f"--runs={tmp_path}", "--threads", "1"])
    assert command == f"imgadapt train sr/pafu-linear-x2 --data {tmp_path.name}/data --seed 0 --threads 1"


def test_time_budget_stops_with_a_checkpoint_and_the_same_command_resumes(tmp_path, data):
    out, runs = tmp_path / "models", tmp_path / "runs"
    command = ["demosaic/pafu-net-plain", "--data", str(data), "--out", str(out), "--runs", str(runs),
               "--steps", "3", "--batch", "1", "--patch", "16", "--pad", "4", "--threads", "1",
               "--features", "4", "--blocks", "1", "--device", "cpu"]
    assert train_cli.main([*command, "--minutes", "1e-9"]) == train_cli.EXIT_RESUMABLE
    state = torch.load(runs / "demosaic" / "pafu-net-plain" / "checkpoint.pt", weights_only=False)
    assert state["step"] == 1 and not (out / "demosaic" / "pafu-net-plain.onnx").exists()
    assert train_cli.main(command) == 0
    card = json.loads((out / "demosaic" / "pafu-net-plain.json").read_text())
    assert card["train"]["steps"] == 3 and "--minutes" not in card["train"]["command"]


def test_pafu_trains_end_to_end_on_several_folders_with_l1(tmp_path, data):
    import shutil

    second = tmp_path / "more"
    shutil.copytree(data, second)
    out = tmp_path / "models"
    torch.manual_seed(0)
    assert train_cli.main(["demosaic/pafu-net", "--data", str(data), str(second), "--out", str(out),
                           "--runs", str(tmp_path / "runs"), "--steps", "2", "--batch", "2", "--patch", "16",
                           "--pad", "4", "--threads", "1", "--features", "4", "--blocks", "1", "--lr", "1e-2",
                           "--kernel-sizes", "3x3", "--train-pafu", "--loss", "l1", "--plain-body"]) == 0
    card = json.loads((out / "demosaic" / "pafu-net.json").read_text())
    assert card["layers"] == ["pafu"]
    assert torch.load(out / "demosaic" / "pafu-net.pt", weights_only=False)["config"]["kernel_sizes"] == [3, 3, 3]
    assert card["train"]["data"] == [f"{data.parent.name}/data", f"{data.parent.name}/more"]
    assert card["train"]["pafu"] == "trained end to end" and card["train"]["loss"] == "l1"
    assert "loss" in card["train"]["history"][-1]


def test_pafu_selector_learns_only_when_asked(data):
    from export import nets
    from export.train.data import load_folder
    from export.train.network import train_network

    images = load_folder(data)
    for fixed in (True, False):
        torch.manual_seed(0)
        model = nets.create("demosaic/pafu-net-tiny")
        before = [p.detach().clone() for p in model.input.selector.parameters()]
        train_network(model, images, steps=2, batch=2, patch=16, pad=4, lr=1e-2, fixed_pafu=fixed)
        moved = any(not torch.equal(b, p) for b, p in zip(before, model.input.selector.parameters()))
        assert moved is not fixed


def test_recorded_command_leaves_out_scheduling(tmp_path):
    command = records.command(["demosaic/pafu-net", "--minutes", "30", "--device=cuda", "--seed", "0"])
    assert command == "imgadapt train demosaic/pafu-net --seed 0"


def test_evaluation_measures_the_model_just_trained_under_a_shipped_name(tmp_path, monkeypatch):
    import subprocess

    seen = {}

    def fake_run(args, check, env):
        seen.update(env)
        (__import__("pathlib").Path(args[args.index("--json") + 1])).write_text("[]")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert records.eval_rows(tmp_path, ["demosaic", "--images", "x"], "demosaic/pafu-linear") == []
    assert seen["IMGADAPT_MODEL_PATH"] == str(tmp_path.resolve()) and seen["IMGADAPT_ALLOW_OVERRIDE"] == "1"


def test_a_schedule_fitted_to_the_time_budget_is_kept_by_the_checkpoint_and_recorded(tmp_path, data, monkeypatch):
    import itertools
    import time

    from export.train import network as train_net

    clock = itertools.count()  # every reading of the clock one second after the last
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(train_net, "FIT_PROBE", (2, 6))
    out, runs = tmp_path / "models", tmp_path / "runs"
    command = ["demosaic/pafu-net-plain", "--data", str(data), "--out", str(out), "--runs", str(runs),
               "--steps", "5000", "--batch", "1", "--patch", "16", "--pad", "4", "--threads", "1",
               "--features", "4", "--blocks", "1", "--device", "cpu", "--fit-steps", "--minutes", "0.5"]
    assert train_cli.main(command) == 0
    state = torch.load(runs / "demosaic" / "pafu-net-plain" / "checkpoint.pt", weights_only=False)
    assert 6 < state["steps"] < 30 and state["step"] == state["steps"]
    assert state["sched"]["total_steps"] == state["steps"]
    card = json.loads((out / "demosaic" / "pafu-net-plain.json").read_text())
    assert card["train"]["steps"] == state["steps"]
    assert f"--steps {state['steps']}" in card["train"]["command"] and "--fit-steps" not in card["train"]["command"]


def test_recorded_command_names_the_fitted_steps():
    command = records.command(["sr/pafu-espcn-x2", "--steps", "90000", "--fit-steps", "--minutes", "8"], 1234)
    assert command == "imgadapt train sr/pafu-espcn-x2 --steps 1234"


def test_batches_made_on_the_device_train_and_are_recorded(tmp_path, data, caplog):
    out = tmp_path / "models"
    command = ["demosaic/pafu-net-plain", "--data", str(data), "--out", str(out), "--runs", str(tmp_path / "runs"),
               "--steps", "2", "--batch", "2", "--patch", "16", "--pad", "4", "--threads", "1", "--features", "4",
               "--blocks", "1", "--device", "cpu", "--batches-on-device", "--scales", "1"]
    assert train_cli.main(command) == 0
    card = json.loads((out / "demosaic" / "pafu-net-plain.json").read_text())
    assert "device" in card["train"]["batches"] and "--batches-on-device" in card["train"]["command"]
    assert train_cli.main(["demosaic/pafu-net-plain-denoise", *command[1:]]) == 2
    assert "clean demosaicking only" in caplog.text
