"""Which content-adaptive layer families a network is built from, as its card lists them."""
from __future__ import annotations

from torch import nn

from .col import CoL
from .envelope import DisentangledConv
from .gaussian_derivative import GaussianDerivativeConv
from .pafu import PAFU
from .steerable import DynamicSteerableConv


def layer_families(model: nn.Module) -> list[str]:
    """The families among ``model``'s modules, in a fixed order; a steerable convolution whose frame is
    left unturned counts as a Gaussian-derivative frame."""
    found = set()
    for m in model.modules():
        if isinstance(m, GaussianDerivativeConv):
            found.add("gaussian_derivative")
        elif isinstance(m, PAFU):
            found.add("pafu")
        elif isinstance(m, CoL):
            found.add("col")
        elif isinstance(m, DisentangledConv):
            found.add("envelope")
        elif isinstance(m, DynamicSteerableConv):
            found.add("steerable" if m.dynamic else "gaussian_derivative")
    return [f for f in ("gaussian_derivative", "pafu", "col", "envelope", "steerable") if f in found]
