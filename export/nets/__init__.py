"""Architectures per task, registered by name (``task/name``)."""
from __future__ import annotations

from . import demosaic, edges, sr  # noqa: F401  (each registers its builders)
from .registry import create, list_architectures, register

__all__ = ["create", "list_architectures", "register"]
