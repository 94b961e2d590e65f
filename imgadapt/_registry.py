"""Model registry: model cards (``models/**/*.json``), name resolution and checksum verification."""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
from pathlib import Path

from ._errors import ModelIntegrityError, UnknownNameError

log = logging.getLogger("imgadapt")

TASKS = ("demosaic", "sr", "edges")
ENV_MODEL_PATH = "IMGADAPT_MODEL_PATH"


def default_model_dirs() -> list[Path]:
    """Directories searched for model cards, in order of precedence.

    ``$IMGADAPT_MODEL_PATH`` (``os.pathsep``-separated) first, then the models shipped in an
    installed wheel (``imgadapt/models``), then a source checkout's top-level ``models/``.
    """
    dirs = [Path(p) for p in os.environ.get(ENV_MODEL_PATH, "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    dirs += [here / "models", here.parent / "models"]
    return [d for d in dirs if d.is_dir()]


class Registry:
    """The model cards found in a list of directories; a card's name is ``task/name``."""

    def __init__(self, dirs: list[Path] | None = None):
        self.dirs = default_model_dirs() if dirs is None else [Path(d) for d in dirs]
        self._cards: dict[str, dict] | None = None

    @property
    def cards(self) -> dict[str, dict]:
        if self._cards is None:
            cards: dict[str, dict] = {}
            for root in self.dirs:
                for path in sorted(root.rglob("*.json")):
                    try:
                        card = json.loads(path.read_text())
                    except (OSError, ValueError) as exc:
                        log.warning("imgadapt: skipping unreadable model card %s: %s", path, exc)
                        continue
                    if not isinstance(card, dict) or "name" not in card or "task" not in card:
                        continue
                    card.setdefault("onnx", path.with_suffix(".onnx").name)
                    card["_dir"] = str(path.parent)
                    cards.setdefault(card["name"], card)
            self._cards = cards
        return self._cards

    def list(self, task: str | None = None) -> list[str]:
        if task is not None and task not in TASKS:
            raise UnknownNameError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
        return sorted(n for n, c in self.cards.items() if task is None or c["task"] == task)

    def resolve(self, name: str | None, task: str | None = None) -> dict:
        """The card for ``name`` (``task/name``, or a bare name within ``task``); None = task default."""
        if name is None:
            if task is None:
                raise UnknownNameError("no model name given and no task to pick a default for")
            return self.default(task)
        if not isinstance(name, str):
            raise UnknownNameError(f"model: expected a name like 'demosaic/pafu-linear', got {type(name).__name__}")
        full = name if "/" in name or task is None else f"{task}/{name}"
        card = self.cards.get(full)
        if card is None:
            known = self.list()
            close = difflib.get_close_matches(full, known, n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            listing = ", ".join(known) if known else "none installed"
            raise UnknownNameError(f"unknown model {name!r}{hint} (known models: {listing})")
        if task is not None and card["task"] != task:
            raise UnknownNameError(f"model {full!r} is a {card['task']} model, expected a {task} model")
        return card

    def default(self, task: str, where=None) -> dict:
        """The best-ranked card of ``task`` (``default_rank``, then name), among those ``where`` accepts."""
        names = [n for n in self.list(task) if where is None or where(self.cards[n])]
        if not names:
            raise UnknownNameError(f"no {task} model is installed (searched {', '.join(map(str, self.dirs))})")
        ranked = sorted(names, key=lambda n: (-int(self.cards[n].get("default_rank", 0)), n))
        return self.cards[ranked[0]]

    @staticmethod
    def onnx_path(card: dict) -> Path:
        return Path(card["_dir"]) / card["onnx"]

    def verified_bytes(self, card: dict) -> bytes:
        """The ONNX file's bytes, after checking them against the card's ``onnx_sha256``."""
        path = self.onnx_path(card)
        if not path.is_file():
            raise ModelIntegrityError(f"model {card['name']!r}: ONNX file {path.name} is missing")
        data = path.read_bytes()
        expected = card.get("onnx_sha256")
        actual = hashlib.sha256(data).hexdigest()
        if expected != actual:
            raise ModelIntegrityError(f"model {card['name']!r}: {path.name} has sha256 {actual}, "
                                      f"the card expects {expected}; the file is corrupt or was replaced")
        return data


def public_card(card: dict) -> dict:
    """A copy of a card without the registry's private keys."""
    return {k: v for k, v in card.items() if not k.startswith("_")}
