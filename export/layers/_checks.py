"""Argument checks shared by the layer families: typed errors that say what was expected and got."""
from __future__ import annotations

import math
import numbers


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (both a TypeError and a ValueError, so either handler works)."""


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name}: expected an integer >= {minimum}, got {value!r} "
                                f"of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_odd(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int if it is an odd integer >= ``minimum`` (symmetric 'same' padding)."""
    value = check_int(name, value, minimum)
    if value % 2 == 0:
        raise ValueError(f"{name}: expected an odd integer (symmetric 'same' padding), got {value}")
    return value


def check_positive(name: str, value) -> float:
    """``value`` as a float if it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def check_input(x, channels: int) -> None:
    """Check an ``(N, C, H, W)`` tensor input; skipped while tracing for export."""
    import torch

    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"input must have shape (N, {channels}, H, W), got {tuple(x.shape)}")
