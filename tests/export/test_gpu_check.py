"""The GPU check script runs end to end on the CPU (``--device cpu --quick``), so it works the day a GPU does."""
import json

import pytest

pytest.importorskip("torch")

from export import gpu_check, nets  # noqa: E402


def test_gpu_check_runs_on_the_cpu_and_reports_every_part(tmp_path, capsys):
    models = ["demosaic/pafu-linear", "sr/pafu-linear-x2", "edges/gd-col-lite"]
    assert gpu_check.main(["--out", str(tmp_path), "--device", "cpu", "--quick", "--no-training",
                           "--models", *models]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [r["model"] for r in report["parity"]] == models
    for row in report["parity"]:  # the CPU against itself: equal, and tiled equals untiled
        assert row["device_vs_cpu_levels"] == 0 and row["tiled_vs_untiled_levels"] <= 1e-3
    assert report["api"]["api_mp_s"] > 0 and report["api"]["graph_mp_s"] > 0
    assert "demosaic/pafu-linear" in capsys.readouterr().out


def test_training_speed_covers_the_architectures(monkeypatch):
    monkeypatch.setattr(nets, "list_architectures", lambda: ["demosaic/pafu-net-plain", "edges/gd-col-lite"])
    rows = gpu_check.training_speed("cpu", steps=1, patch=16)
    assert [r["architecture"] for r in rows] == ["demosaic/pafu-net-plain", "edges/gd-col-lite"]
    assert all(r["steps_per_s"] > 0 for r in rows)
