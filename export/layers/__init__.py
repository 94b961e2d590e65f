"""The four content-adaptive layer families, one per file."""
from .col import CoL
from .envelope import DisentangledConv, GaussianEnvelope
from .gaussian_derivative import GaussianDerivativeConv
from .pafu import PAFU, pafu_decorrelation_loss

__all__ = ["PAFU", "pafu_decorrelation_loss", "CoL", "GaussianEnvelope", "DisentangledConv",
           "GaussianDerivativeConv"]
