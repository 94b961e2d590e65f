"""The model card schema: every field the runtime reads, with its type and range.

A card is checked when the registry reads it (:func:`validate_card`); a card that does not fit is
skipped with a warning naming the file, the field, what was expected and what arrived, so one bad
card never breaks the other models. Fields not listed here (``train``, ``export``, ``arch``...) are
records for people and are not checked; keys starting with ``_`` are reserved for the registry.

The schema is declared below as plain data: a field is ``Field(spec, required)``, a spec is one of
:class:`Int`, :class:`Text`, :class:`OneOf`, :class:`ListOf` or :class:`Obj`. One schema per task.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

TASKS = ("demosaic", "sr", "edges")

#: Receptive fields above this are refused: the runtime pads every tile by half of it.
MAX_RECEPTIVE_FIELD = 1024
#: Cards larger than this are refused unread (the shipped ones are below 30 KB).
MAX_CARD_BYTES = 1 << 20

_SLUG = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}"


class CardError(ValueError):
    """A model card that cannot be used; ``problems`` holds ``(field, expected, got)`` triples."""

    def __init__(self, problems: list[tuple[str | None, str, str]], name: str | None = None):
        self.problems = problems
        self.name = name  # the card's name, when it has a usable one
        super().__init__("; ".join(f"{f}: expected {e}, got {g}" if f else f"expected {e}, got {g}"
                                   for f, e, g in problems))


MISSING = object()


def shown(value) -> str:
    """A value as it arrived, in JSON terms and short: ``"high" (string)``, ``1000000000.0 (number)``."""
    if value is MISSING:
        return "nothing (the field is missing)"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = f"a {kind}"
    return f"{text[:57] + '...' if len(text) > 60 else text} ({kind})"


# --------------------------------------------------------------------------------------------
# Specs: ``expected()`` says what fits; ``problems(value, at)`` yields ``(field, expected, got)``
# for what does not.


@dataclass(frozen=True)
class Int:
    """An integer (not a boolean, not a float such as ``2.0``) in ``[lo, hi]``, a multiple of ``step``."""

    lo: int
    hi: int
    step: int = 1

    def expected(self) -> str:
        even = " and even" if self.step == 2 else f" and a multiple of {self.step}" if self.step > 1 else ""
        return f"an integer from {self.lo} to {self.hi}{even}"

    def problems(self, value, at):
        if (isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi
                or value % self.step):
            yield at, self.expected(), shown(value)


@dataclass(frozen=True)
class Text:
    """A string; with ``pattern``, one that matches it whole (``says`` describes it to the user)."""

    pattern: str | None = None
    says: str = "a string"

    def expected(self) -> str:
        return self.says

    def problems(self, value, at):
        if not isinstance(value, str) or (self.pattern and not re.fullmatch(self.pattern, value)):
            yield at, self.expected(), shown(value)


@dataclass(frozen=True)
class OneOf:
    """One of a few values (strings or integers; ``True`` is not ``1``)."""

    choices: tuple

    def expected(self) -> str:
        return "one of " + ", ".join(map(json.dumps, self.choices))

    def problems(self, value, at):
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value not in self.choices:
            yield at, self.expected(), shown(value)


@dataclass(frozen=True)
class ListOf:
    """An array of at most ``max_items`` items, each fitting ``item``."""

    item: object
    max_items: int = 64

    def expected(self) -> str:
        return f"an array of at most {self.max_items} items"

    def problems(self, value, at):
        if not isinstance(value, list) or len(value) > self.max_items:
            yield at, self.expected(), shown(value)
            return
        for i, v in enumerate(value):
            yield from self.item.problems(v, f"{at}[{i}]")


@dataclass(frozen=True)
class Field:
    """A field of an :class:`Obj`: its spec, and whether the field must be there."""

    spec: object
    required: bool = False


@dataclass(frozen=True)
class Obj:
    """A JSON object whose listed fields fit their specs; other keys are allowed and not checked."""

    fields: dict = field(default_factory=dict)

    def expected(self) -> str:
        return "a JSON object"

    def problems(self, value, at=""):
        if not isinstance(value, dict):
            yield at or None, self.expected(), shown(value)
            return
        for key, f in self.fields.items():
            where = f"{at}.{key}" if at else key
            if key in value:
                yield from f.spec.problems(value[key], where)
            elif f.required:
                yield where, f.spec.expected(), shown(MISSING)


# --------------------------------------------------------------------------------------------
# The schema


def _name(task: str) -> Text:
    return Text(rf"{task}/{_SLUG}", f"a name like '{task}/my-model' (the task, '/', then letters, digits, "
                                    f"'.', '_', '+' or '-', at most 100)")


def _input(channels: tuple, **extra) -> Field:
    return Field(Obj({"channels": Field(OneOf(channels), required=True),
                      "multiple": Field(Int(1, 64)), **extra}), required=True)


COMMON = {
    "task": Field(OneOf(TASKS), required=True),
    "kind": Field(OneOf(("linear", "nonlinear"))),
    "layers": Field(ListOf(Text())),
    "description": Field(Text()),
    "receptive_field": Field(Int(1, MAX_RECEPTIVE_FIELD), required=True),
    "default_rank": Field(Int(-1000, 1000)),
    # a plain file name: no folder separator, no drive (':'), no leading '.' (so no '..'), no control character
    "onnx": Field(Text(r"[^./\\:\x00-\x1f][^/\\:\x00-\x1f]{0,199}\.onnx",
                       "a file name ending in .onnx, in the card's own folder (no '/', no '..', not absolute)")),
    "onnx_sha256": Field(Text(r"[0-9a-f]{64}", "the sha256 of the ONNX file, 64 lower-case hex digits"),
                         required=True),
    "params": Field(Int(0, 10 ** 12)),
    "opset": Field(Int(1, 1000)),
    "runtime": Field(Obj({"graph_optimization": Field(OneOf(("extended", "all")))})),
    "metrics": Field(Obj({"summary": Field(Text())})),
}

SCHEMAS = {
    # one RGGB-canonical model serves every pattern; tiles and pads keep the 2x2 Bayer phase
    "demosaic": Obj({**COMMON, "name": Field(_name("demosaic"), required=True), "scale": Field(OneOf((1,))),
                     "input": _input((1,), pattern=Field(OneOf(("RGGB",))), multiple=Field(Int(2, 64, step=2)))}),
    "sr": Obj({**COMMON, "name": Field(_name("sr"), required=True), "scale": Field(Int(2, 8), required=True),
               "input": _input((1, 3))}),
    "edges": Obj({**COMMON, "name": Field(_name("edges"), required=True), "scale": Field(OneOf((1,))),
                  "input": _input((1, 3))}),
}


def validate_card(card) -> dict:
    """``card`` itself when it fits the schema of its task, else :class:`CardError` listing every problem."""
    if not isinstance(card, dict):
        raise CardError([(None, "a JSON object (a model card)", shown(card))])
    problems = list(COMMON["task"].spec.problems(card.get("task", MISSING), "task"))
    if problems:
        problems += Obj({"name": Field(Text(), required=True)}).problems(card)
    else:
        problems += SCHEMAS[card["task"]].problems(card)
    reserved = sorted(k for k in card if not isinstance(k, str) or k.startswith("_"))
    if reserved:
        problems.append((reserved[0], "no keys starting with '_' (reserved for the registry)", "such a key"))
    if problems:
        name = card.get("name")
        raise CardError(problems, name if isinstance(name, str) and re.fullmatch(rf"[a-z]+/{_SLUG}", name) else None)
    return card


def parse_card(raw: bytes) -> dict:
    """A card from a file's bytes: UTF-8 JSON, no duplicate keys, checked by :func:`validate_card`."""
    if len(raw) > MAX_CARD_BYTES:
        raise CardError([(None, f"a file of at most {MAX_CARD_BYTES} bytes", "a larger file")])
    try:
        card = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_unique_keys)  # a BOM is fine
    except CardError:
        raise
    except UnicodeDecodeError as exc:
        raise CardError([(None, "UTF-8 text", f"undecodable bytes at offset {exc.start}")]) from None
    except (ValueError, RecursionError) as exc:
        raise CardError([(None, "valid JSON", f"{type(exc).__name__}: {str(exc)[:120]}")]) from None
    return validate_card(card)


def _unique_keys(pairs):
    card = dict(pairs)
    if len(card) < len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise CardError([(None, "each key once in an object", f"{json.dumps(dup)} twice")])
    return card
