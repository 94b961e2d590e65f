"""The registry of architectures: builders registered by name (``task/name``)."""
from __future__ import annotations

import difflib
from typing import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def wrap(fn):
        _BUILDERS[name] = fn
        return fn
    return wrap


def create(name: str, **overrides) -> nn.Module:
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, list(_BUILDERS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown architecture {name!r}{hint} (known: {', '.join(sorted(_BUILDERS))})")
    return _BUILDERS[name](**overrides)


def list_architectures() -> list[str]:
    return sorted(_BUILDERS)
