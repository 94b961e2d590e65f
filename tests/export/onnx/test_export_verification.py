"""The export fails with a typed error when onnxruntime and torch disagree beyond the tolerance."""
import pytest
import torch

from _export_helpers import broken, tiny_export
from export.onnx.convert import to_onnx_bytes
from export.onnx.ship import verify_onnx
from imgadapt.errors import ExportVerificationError


def test_a_broken_graph_fails_verification_saying_expected_and_got():
    net = torch.nn.Conv2d(1, 2, 3, padding=1).eval()
    good = to_onnx_bytes(net, torch.zeros(1, 1, 8, 8))
    inputs = [torch.rand(1, 1, 9, 7)]
    assert verify_onnx(net, good, inputs) < 1e-5
    with pytest.raises(ExportVerificationError, match=r"expected \|onnxruntime - torch\| <= 0.0001, got"):
        verify_onnx(net, broken(good), inputs)


def test_export_fails_when_a_graph_pass_breaks_the_graph():
    from export.onnx.graph import simplify

    with pytest.raises(ExportVerificationError) as err:
        tiny_export(graph_pass=lambda b: broken(simplify(b)))
    assert isinstance(err.value, ValueError)


def test_verification_covers_random_inputs_of_two_sizes_and_the_calibration_tiles():
    _, calib, result = tiny_export(fp16=True)
    ver = result.summary["verification"]
    assert ver["max_abs_diff"] <= ver["tolerance"] == 1e-4
    assert ver["inputs"][:2] == [[1, 1, 64, 96], [1, 1, 38, 22]]
    assert ver["inputs"][2] == f"{len(calib.inputs)} calibration tiles"
