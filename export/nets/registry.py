"""The one registry of architectures. Each entry carries what builds the network, the fields its card
starts from, and the trainer that ``imgadapt train NAME`` runs; training, export, the GPU check and
the ``train`` command's choices all read it."""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from torch import nn

from imgadapt.errors import UnknownNameError

from ..layers.families import layer_families


@dataclass(frozen=True)
class Architecture:
    """A registered name (``task/name``).

    Attributes:
        name: what ``create`` and ``imgadapt train`` take; also the trained model's name.
        build: keyword options -> an untrained ``nn.Module``.
        kind: ``linear`` or ``nonlinear``, as its card says.
        trainer: ``"module:function"`` of its trainer, ``function(args, argv) -> card``; ``None`` for the
            test-size variants, which nothing trains.
        variant_of: a variant (e.g. ``-denoise``) builds and checkpoints this architecture with ``config``.
        config: the options a variant adds.
        description: what its card says it is, for trainers that do not compose one from the trained
            configuration.
        default_rank: its card's ``default_rank``: ``imgadapt`` serves the highest-ranked installed model
            of a task (and scale) when none is named. Each ``register`` call says why its rank is what
            it is (the most accurate model, or a fast one that is good enough).
    """

    name: str
    build: Callable[..., nn.Module]
    kind: str
    trainer: str | None = None
    variant_of: str | None = None
    config: Mapping = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    default_rank: int = 0

    @property
    def task(self) -> str:
        return self.name.split("/")[0]

    @property
    def arch(self) -> str:
        """The architecture its checkpoints name (the variant's base for a variant)."""
        return self.variant_of or self.name

    def create(self, **overrides) -> nn.Module:
        return self.build(**{**self.config, **overrides})

    def card(self, model: nn.Module | None = None) -> dict:
        """The fields every card of this architecture starts with; with the built ``model``, also the
        layer families it is made of (:func:`~export.layers.families.layer_families`)."""
        card = {"name": self.name, "arch": self.arch, "task": self.task, "kind": self.kind,
                "default_rank": self.default_rank}
        if model is not None:
            card["layers"] = layer_families(model)
        return card

    def train(self, args, argv: list[str]) -> dict:
        """Run its trainer; returns the card of the shipped model."""
        if self.trainer is None:
            raise UnknownNameError(f"{self.name} is a test-size variant; nothing trains it")
        module, _, function = self.trainer.partition(":")
        return getattr(importlib.import_module(module), function)(args, argv)


_ENTRIES: dict[str, Architecture] = {}


def register(name: str, *, kind: str, trainer: str | None = None, description: str = "", default_rank: int = 0):
    """Decorator: register ``build`` under ``name``."""
    def wrap(build: Callable[..., nn.Module]):
        _ENTRIES[name] = Architecture(name, build, kind, trainer, description=description, default_rank=default_rank)
        return build
    return wrap


def register_variant(name: str, of: str, *, description: str = "", default_rank: int = 0, **config) -> None:
    """Register ``name``: the architecture ``of`` built with ``config``, trained by the same trainer (its
    card description and default rank its own, not the base's)."""
    _ENTRIES[name] = replace(_ENTRIES[of], name=name, variant_of=of, config=MappingProxyType(config),
                             description=description, default_rank=default_rank)


def get(name: str) -> Architecture:
    if name not in _ENTRIES:
        close = difflib.get_close_matches(name, list(_ENTRIES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown architecture {name!r}{hint} (known: {', '.join(sorted(_ENTRIES))})")
    return _ENTRIES[name]


def create(name: str, **overrides) -> nn.Module:
    return get(name).create(**overrides)


def list_architectures() -> list[str]:
    """The architectures (variants left out)."""
    return sorted(n for n, e in _ENTRIES.items() if e.variant_of is None)


def trainable() -> list[str]:
    """The names ``imgadapt train`` takes."""
    return sorted(n for n, e in _ENTRIES.items() if e.trainer is not None)
