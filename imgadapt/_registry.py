"""Model registry: model cards (``models/**/*.json``), name resolution and checksum verification.

Cards come from two kinds of folders: the **shipped** models (``imgadapt/models`` in a wheel, the
checkout's ``models/``) and the **user's** folders in ``$IMGADAPT_MODEL_PATH``. Every card is
checked against :mod:`imgadapt._card_schema` when it is read; a card that does not fit is skipped
with a warning on the ``imgadapt`` logger and the other models keep working.

A user card never changes what a shipped name or a task's default means, unless the user opts in
with ``IMGADAPT_ALLOW_OVERRIDE=1``:

- a user card named like a shipped model (with another ONNX file) is skipped with a warning: the
  name keeps meaning the shipped model everywhere (in the workers of a batch too); with the opt-in
  the user card replaces the shipped one, logged at WARNING;
- ``model=None`` picks the best ``default_rank`` among the shipped models only; with the opt-in
  user cards compete too, and a user card chosen as a default is logged at WARNING.

A card's ONNX file must lie in the card's own folder, inside the model folder it was found in
(``onnx`` is a plain file name; a symbolic link leading out of the folder is refused); the error
for a refused file says nothing about that file.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
from pathlib import Path

from ._card_schema import MAX_CARD_BYTES, TASKS, CardError, parse_card
from .errors import ModelIntegrityError, UnknownNameError

log = logging.getLogger("imgadapt")

ENV_MODEL_PATH = "IMGADAPT_MODEL_PATH"
ENV_ALLOW_OVERRIDE = "IMGADAPT_ALLOW_OVERRIDE"

__all__ = ["TASKS", "ENV_MODEL_PATH", "ENV_ALLOW_OVERRIDE", "Registry", "default_model_dirs", "public_card"]


def shipped_model_dirs() -> list[Path]:
    """The folders of the models shipped with imgadapt: ``imgadapt/models`` (in a wheel; a link to
    ``models/`` in a checkout) and, in a source checkout only, the top-level ``models/``."""
    here = Path(__file__).resolve().parent
    dirs = [here / "models"]
    if (here.parent / "pyproject.toml").is_file():  # a checkout, not site-packages with someone's models/
        dirs.append(here.parent / "models")
    return _unique_dirs(d for d in dirs if d.is_dir())


def user_model_dirs() -> list[Path]:
    """The folders of ``$IMGADAPT_MODEL_PATH`` (``os.pathsep``-separated), in order; missing ones are left out."""
    return [Path(p) for p in os.environ.get(ENV_MODEL_PATH, "").split(os.pathsep) if p and Path(p).is_dir()]


def override_allowed() -> bool:
    """Whether ``$IMGADAPT_ALLOW_OVERRIDE`` lets user cards replace shipped models and task defaults."""
    return os.environ.get(ENV_ALLOW_OVERRIDE, "").strip().lower() in ("1", "true", "yes", "on")


def default_model_dirs() -> list[Path]:
    """Directories searched for model cards: ``$IMGADAPT_MODEL_PATH``, then the shipped models."""
    return _unique_dirs(user_model_dirs() + shipped_model_dirs())


def _unique_dirs(dirs) -> list[Path]:
    seen, out = set(), []
    for d in dirs:
        real = Path(d).resolve()
        if real not in seen:
            seen.add(real)
            out.append(Path(d))
    return out


class Registry:
    """The model cards found in model folders; a card's name is ``task/name``.

    Args:
        dirs: folders whose cards are trusted like the shipped ones (``None``: the shipped models,
            plus ``$IMGADAPT_MODEL_PATH`` as user folders).
        user_dirs: user folders (``None``: ``$IMGADAPT_MODEL_PATH`` when ``dirs`` is ``None``, else none).
        allow_override: let user cards replace shipped names and defaults (``None``: ``$IMGADAPT_ALLOW_OVERRIDE``).
    """

    def __init__(self, dirs: list[Path] | None = None, *, user_dirs: list[Path] | None = None,
                 allow_override: bool | None = None):
        if dirs is None:
            shipped = shipped_model_dirs()
            user = user_model_dirs() if user_dirs is None else user_dirs
        else:
            shipped, user = [Path(d) for d in dirs], user_dirs or []
        shipped = _unique_dirs(shipped)
        taken = {d.resolve() for d in shipped}  # a user entry naming a shipped folder adds nothing
        self.shipped_dirs = shipped
        self.user_dirs = [d for d in _unique_dirs(user) if d.resolve() not in taken]
        self.dirs = self.user_dirs + self.shipped_dirs
        self.allow_override = override_allowed() if allow_override is None else bool(allow_override)
        self._cards: dict[str, dict] | None = None
        self._skipped: dict[str, str] = {}  # name -> why its card was skipped
        self._announced: set = set()

    # ----------------------------------------------------------------------------------------
    # Reading

    @property
    def cards(self) -> dict[str, dict]:
        if self._cards is None:
            shipped = self._read_all(self.shipped_dirs, "shipped")
            user = self._read_all(self.user_dirs, "user")
            cards = dict(shipped)
            for name, card in user.items():
                mine = shipped.get(name)
                if mine is None:
                    cards[name] = card
                elif mine["onnx_sha256"] == card["onnx_sha256"]:
                    log.debug("imgadapt: %s is the shipped model %s itself", card["_path"], name)
                elif self.allow_override:
                    log.warning("imgadapt: model %s is replaced by the user card %s (%s is set); the shipped "
                                "card is %s", name, card["_path"], ENV_ALLOW_OVERRIDE, mine["_path"])
                    cards[name] = card
                else:
                    log.warning("imgadapt: skipping model card %s: %r is the name of a shipped model (%s), which "
                                "stays in use; rename the model, or set %s=1 to replace the shipped one",
                                card["_path"], name, mine["_path"], ENV_ALLOW_OVERRIDE)
            self._cards = cards
        return self._cards

    def _read_all(self, dirs: list[Path], source: str) -> dict[str, dict]:
        """The valid cards in ``dirs``; of two cards with one name the first found wins (and the other is logged)."""
        found: dict[str, dict] = {}
        for root in dirs:
            for card in self._read_dir(root, source):
                first = found.get(card["name"])
                if first is None:
                    found[card["name"]] = card
                elif first["onnx_sha256"] != card["onnx_sha256"]:
                    log.warning("imgadapt: skipping model card %s: %r is already defined by %s, found first",
                                card["_path"], card["name"], first["_path"])
        return found

    def _read_dir(self, root: Path, source: str):
        real_root = root.resolve()
        for path in sorted(root.rglob("*.json")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue  # hidden files and folders (editor backups, macOS ._ files)
            try:
                card = _read_card(path)
                card.setdefault("onnx", path.with_suffix(".onnx").name)
                card.update(_dir=str(path.parent), _root=str(real_root), _path=str(path), _source=source)
                if not _inside(Path(card["_dir"]) / card["onnx"], real_root):
                    raise CardError([("onnx", "a file inside the model folder", "a path leading out of it")],
                                    name=card["name"])
            except CardError as exc:
                log.warning("imgadapt: skipping model card %s: %s", path, exc)
                if exc.name is not None:
                    self._skipped.setdefault(exc.name, f"its card {path} was skipped: {exc}")
                continue
            yield card

    # ----------------------------------------------------------------------------------------
    # Names

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
            if full in self._skipped:
                raise UnknownNameError(f"model {full!r} is not available: {self._skipped[full]}")
            known = self.list()
            close = difflib.get_close_matches(full, known, n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            listing = ", ".join(known) if known else "none installed"
            raise UnknownNameError(f"unknown model {name!r}{hint} (known models: {listing})")
        if task is not None and card["task"] != task:
            raise UnknownNameError(f"model {full!r} is a {card['task']} model, expected a {task} model")
        return card

    def default(self, task: str, where=None) -> dict:
        """The best-ranked card of ``task`` (``default_rank``, then name), among those ``where`` accepts.

        Only shipped cards are candidates unless user overrides are allowed; a user card chosen
        then is logged at WARNING (once per registry and model)."""
        fits = [n for n in self.list(task) if where is None or where(self.cards[n])]
        names = [n for n in fits if self.allow_override or self.cards[n]["_source"] == "shipped"]
        if not names:
            if fits:
                raise UnknownNameError(
                    f"no shipped {task} model fits, and user models are not picked as defaults unless "
                    f"{ENV_ALLOW_OVERRIDE}=1: name one explicitly ({', '.join(fits)})")
            raise UnknownNameError(f"no {task} model is installed (searched {', '.join(map(str, self.dirs))})")
        ranked = sorted(names, key=lambda n: (-self.cards[n].get("default_rank", 0), n))
        card = self.cards[ranked[0]]
        if card["_source"] != "shipped" and card["name"] not in self._announced:
            self._announced.add(card["name"])
            log.warning("imgadapt: the default %s model is %s from the user card %s (%s is set)", task,
                        card["name"], card["_path"], ENV_ALLOW_OVERRIDE)
        return card

    # ----------------------------------------------------------------------------------------
    # Files

    @staticmethod
    def onnx_path(card: dict) -> Path:
        """The card's ONNX file; :class:`ModelIntegrityError` when it leads out of its model folder."""
        path = Path(card["_dir"]) / card["onnx"]
        if not _inside(path, Path(card.get("_root", card["_dir"])).resolve()):
            raise ModelIntegrityError(f"model {card['name']!r}: its card's onnx entry does not name a file in the "
                                      "card's model folder; the model is refused")
        return path

    def verified_bytes(self, card: dict) -> bytes:
        """The ONNX file's bytes, after checking them against the card's ``onnx_sha256``."""
        path = self.onnx_path(card).resolve()
        if not path.is_file():
            raise ModelIntegrityError(f"model {card['name']!r}: ONNX file {card['onnx']} is missing")
        data = path.read_bytes()
        expected = card.get("onnx_sha256")
        if hashlib.sha256(data).hexdigest() != expected:
            raise ModelIntegrityError(f"model {card['name']!r}: {card['onnx']} does not match the card's onnx_sha256 "
                                      f"({expected}); the file is corrupt or was replaced")
        return data


def _read_card(path: Path) -> dict:
    """A checked card from ``path``; :class:`CardError` for a file that is not a readable, valid card."""
    try:
        if not path.is_file():  # a folder, a FIFO, a dangling link named *.json
            raise CardError([(None, "a regular file", "something else")])
        with open(path, "rb") as f:
            raw = f.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise CardError([(None, "a readable file", f"{type(exc).__name__} ({exc.strerror})")]) from None
    return parse_card(raw)


def _inside(path: Path, real_root: Path) -> bool:
    """Whether ``path``, with every link followed, lies within ``real_root`` (already resolved)."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a link loop
        return False


def public_card(card: dict) -> dict:
    """A copy of a card without the registry's private keys."""
    return {k: v for k, v in card.items() if not k.startswith("_")}
