"""Gaussian-derivative and BatchNorm folding into plain convolutions (export.onnx.folding)."""
import pytest
import torch
from torch import nn

from export.onnx.folding import fold_batchnorms, fold_gaussian_derivatives
from export.onnx.graph import graph_stats, simplify
from export.layers.gaussian_derivative import GaussianDerivativeConv
from export.nets import create
from export.onnx.convert import to_onnx_bytes


@pytest.mark.parametrize("separated", [False, True])
def test_gaussian_derivative_folding_is_exact(separated):
    layer = GaussianDerivativeConv(2, 3, order=2, n_bases=2, kernel_size=7, separated=separated,
                                   depth_multiplier=2).eval()
    folded, report = fold_gaussian_derivatives(layer)
    assert all(isinstance(m, nn.Conv2d) for m in folded.modules() if not isinstance(m, nn.Sequential))
    assert report["layers"][0]["max_abs_diff"] < 1e-5
    x = torch.rand(2, 2, 21, 19)
    with torch.no_grad():
        assert (folded(x) - layer(x)).abs().max() < 1e-5


def test_a_network_folds_every_gaussian_derivative_layer_exactly():
    net = create("edges/gd-col-tiny").eval()
    folded, report = fold_gaussian_derivatives(net)
    assert [r["layer"] for r in report["layers"]] == ["frame", "frame_low"]
    assert not any(isinstance(m, GaussianDerivativeConv) for m in folded.modules())
    x = torch.rand(1, 1, 30, 34)
    with torch.no_grad():
        assert (folded(x) - net(x)).abs().max() < 1e-5


def test_batchnorm_after_a_conv_is_folded_and_leaves_no_node():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 1, 1))
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    net.eval()
    folded, report = fold_batchnorms(net)
    assert report["batchnorm_layers"] == 1 and report["folded"] == ["1"]
    x = torch.rand(1, 1, 12, 12)
    with torch.no_grad():
        assert (folded(x) - net(x)).abs().max() < 1e-5
    assert "BatchNormalization" not in graph_stats(simplify(to_onnx_bytes(folded, x)), 1)["ops"]
