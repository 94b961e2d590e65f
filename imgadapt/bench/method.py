"""The one type of everything measured: an imgadapt model or a peer."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """A method under measurement.

    ``run`` is what a user calls, and what is timed: ``run(mosaic, pattern)`` for demosaicking,
    ``run(low_res)`` for super-resolution, ``run(image)`` for boundaries, ``run(path)`` for RAW files.
    ``source`` names the package it comes from (``imgadapt`` for the models). A boundary detector with
    binary output at several settings gives ``levels(image)``: its maps from permissive to strict,
    named by ``level_names``, which are evaluated instead of thresholds of a probability map.
    """

    run: Callable
    source: str
    levels: Callable | None = None
    level_names: tuple[str, ...] = ()
