"""The GPU check script runs end to end on the CPU (``--device cpu --quick``), so it works the day a GPU does."""
import json

import pytest

pytest.importorskip("torch")

from export.onnx import gpu_check
from export import nets  # noqa: E402


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


def test_chain_stages_are_timed_when_the_per_pixel_work_runs_in_graphs():
    import numpy as np

    import imgadapt

    model = imgadapt.load("demosaic/pafu-linear", providers=["cpu"], tile=0)
    mosaic = (np.random.default_rng(0).random((64, 96)) * 255).astype(np.uint8)
    assert gpu_check.chain_stages(model, mosaic, 2) == {}  # the CPU provider finishes on the host
    model._graph_io = True  # as on CUDA: the pre/post graphs chained to the model
    stages = gpu_check.chain_stages(model, mosaic, 2)
    assert list(stages) == ["upload", "pre", "model", "post"] and all(v >= 0 for v in stages.values())
    from imgadapt import _chain

    assert _chain.Chain.stage_seconds is None  # the diagnostic leaves the runtime as it was
