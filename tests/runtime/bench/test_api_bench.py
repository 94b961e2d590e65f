"""``imgadapt bench TASK --api-overhead``: the API against the bare network, and batches against a loop."""
import json

import numpy as np
import pytest

import imgadapt
from imgadapt.bench import api_overhead
from imgadapt import cli


def test_graph_input_is_the_networks_input_of_the_frame(installed):
    model = imgadapt.load("demosaic/conv")
    mosaic = api_overhead.scene("demosaic", (20, 30), np.uint16)
    x = api_overhead.graph_input(model, mosaic)
    assert x.shape == (1, 1, 20, 30) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, 0], mosaic.astype(np.float32) * np.float32(1 / 65535))
    bgr = api_overhead.scene("edges", (20, 30), np.uint8)
    x = api_overhead.graph_input(imgadapt.load("edges/conv"), bgr)
    np.testing.assert_allclose(x[0], bgr[..., ::-1].transpose(2, 0, 1) / 255, atol=1e-7)


@pytest.mark.parametrize("task", ["demosaic", "sr", "edges"])
def test_api_overhead_rows(installed, task):
    rows = api_overhead.api_overhead(task, scale=2 if task == "sr" else None, shape=(40, 60), repeats=1)
    assert [r["method"] for r in rows] == ["graph", "api", "tiles 1024"]
    assert rows[0]["over_graph"] == 1.0 and all(r["mp_s"] > 0 and r["megapixels"] == 40 * 60 / 1e6 for r in rows)
    assert len(api_overhead.table(rows)) == 3


def test_batch_throughput_rows(installed):
    rows = api_overhead.batch_throughput("demosaic", frames=3, side=16, repeats=1)
    assert [r["method"] for r in rows] == ["loop", "batch(list)", "batch(stack)"]
    assert rows[0]["over_loop"] == 1.0 and all(r["frames"] == 3 and r["side"] == 16 for r in rows)


def test_bench_cli_api_overhead(installed, tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert cli.main(["bench", "edges", "--api-overhead", "--api-megapixels", "0.002", "--batch-frames", "2",
                     "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["graph", "api", "tiles 1024", "loop", "batch(list)", "batch(stack)"]
    assert "x graph" in capsys.readouterr().out
