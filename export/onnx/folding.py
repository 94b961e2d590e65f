"""Folding of layers into plain convolutions before export: Gaussian-derivative layers and BatchNorm.

A :class:`~export.layers.gaussian_derivative.GaussianDerivativeConv` becomes the plain convolution(s)
of its folded weights (basis x coefficients, :meth:`equivalent_conv`); a ``BatchNorm2d`` right after
a ``Conv2d`` in an ``nn.Sequential`` is folded into the convolution's weights and bias. Each fold
is checked on a random input and reported with its largest deviation.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..layers.gaussian_derivative import GaussianDerivativeConv

FOLD_TOLERANCE = 1e-5


@torch.no_grad()
def _deviation(a: nn.Module, b: nn.Module, channels: int, size: int = 24) -> float:
    x = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0))
    return float((a(x) - b(x)).abs().max())


def fold_gaussian_derivatives(model: nn.Module) -> tuple[nn.Module, dict]:
    """A copy of ``model`` whose Gaussian-derivative layers are plain convolutions with the folded weights.

    Returns:
        The copy (eval mode) and a report with, per layer, the form (plain or separated), the
        kernel size and the largest |folded - layer| on a random input.
    """
    result = copy.deepcopy(model).eval()
    layers = []
    for name, module in list(result.named_modules()):
        if not isinstance(module, GaussianDerivativeConv):
            continue
        folded = module.equivalent_conv().eval()
        layers.append({"layer": name, "form": "separated" if module.separated else "plain",
                       "kernel_size": module.kernel_size,
                       "max_abs_diff": _deviation(module.eval(), folded, module.in_channels)})
        if not name:
            result = folded
            break
        parent, _, attr = name.rpartition(".")
        setattr(result.get_submodule(parent), attr, folded)
    report = {"optimization": "gaussian-derivative folding", "applied": bool(layers), "layers": layers,
              "tolerance": FOLD_TOLERANCE}
    return result, report


def fold_batchnorms(model: nn.Module) -> tuple[nn.Module, dict]:
    """A copy of ``model`` with every ``Conv2d`` + ``BatchNorm2d`` pair of an ``nn.Sequential`` fused.

    A BatchNorm elsewhere is left for the exporter, which folds eval-mode BatchNorm after a
    convolution, and for :func:`~export.onnx.graph.simplify` (Conv + BatchNormalization fusion).

    Returns:
        The copy (eval mode) and a report: BatchNorm layers found and folded here.
    """
    result = copy.deepcopy(model).eval()
    found = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in result.modules())
    folded = []
    for name, module in list(result.named_modules()):
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
                folded.append(f"{name}.{i + 1}".lstrip("."))
    return result, {"optimization": "batchnorm folding", "applied": bool(folded), "batchnorm_layers": found,
                    "folded": folded}
