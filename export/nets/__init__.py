"""Architectures per task and the one registry of them (:mod:`export.nets.registry`)."""
from __future__ import annotations

from . import demosaic, edges, sr  # noqa: F401  (each registers its architectures)
from .registry import Architecture, create, get, list_architectures, register, register_variant, trainable

__all__ = ["Architecture", "create", "get", "list_architectures", "register", "register_variant", "trainable"]
