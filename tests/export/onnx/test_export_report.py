"""The export report: per-optimisation entries, graph figures before and after, metadata, fp16."""
import json

from _export_helpers import tiny_export
from export.onnx import graph
from export.onnx.pipeline import ExportResult, write_outputs


def _step(summary, name):
    return next(o for o in summary["optimizations"] if o["optimization"] == name)


def test_envelope_shrinking_is_reported_per_layer_with_the_metric_change():
    _, _, result = tiny_export(config={"radius": 3, "init_sigma": 0.4})
    shrink = _step(result.summary, "envelope shrinking")
    assert shrink["applied"] is True and [layer["taps"] for layer in shrink["layers"]] == ["7 -> 3", "7 -> 3"]
    assert all(layer["mass_kept_min"] > 0.99 for layer in shrink["layers"])
    assert abs(shrink["change_db"]) <= shrink["tolerance_db"]
    g = result.summary["graph"]
    assert g["after"]["macs_per_pixel"] < g["before"]["macs_per_pixel"]
    assert set(result.summary["throughput"]) >= {"before", "after", "speedup"}
    metric = result.summary["calibration"]["metric"]
    assert metric["change_db"] == round(metric["after"]["psnr_db"] - metric["before"]["psnr_db"], 4)


def test_switched_off_optimisations_say_so():
    _, _, result = tiny_export(shrink=False, collapse=False)
    assert _step(result.summary, "envelope shrinking") == {"optimization": "envelope shrinking", "enabled": False}
    assert _step(result.summary, "pafu collapse")["enabled"] is False
    assert _step(result.summary, "dynamic height and width")["input"] == ["n", 1, "h", "w"]


def test_metadata_holds_the_summary_and_the_card(tmp_path):
    _, _, result = tiny_export(fp16=True)
    out = tmp_path / "m.onnx"
    card = write_outputs(result, {"name": "demosaic/t", "task": "demosaic", "export": result.summary}, out)
    meta = graph.read_metadata(out.read_bytes())
    assert json.loads(meta[graph.METADATA_KEY]) == json.loads(json.dumps(result.summary))
    assert json.loads(meta["imgadapt.card"])["name"] == "demosaic/t"
    assert json.loads((tmp_path / "m.json").read_text())["onnx_sha256"] == card["onnx_sha256"]
    assert graph.read_metadata((tmp_path / "m.fp16.onnx").read_bytes())[graph.METADATA_KEY]


def test_fp16_keeps_float32_inputs_and_outputs_and_reports_its_loss():
    import onnx

    _, _, result = tiny_export(fp16=True)
    assert isinstance(result, ExportResult) and result.fp16 is not None
    model = onnx.load_from_string(result.fp16)
    assert [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] == [1, 1]
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    fp16 = result.summary["fp16"]
    assert fp16["ran_on_cpu"] is True and "change_db_vs_fp32" in fp16
