"""The one renderer of results tables (``imgadapt eval`` and ``imgadapt bench``): fixed-width
columns, text left-aligned and numbers right-aligned, ``-`` for a missing value."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Column:
    """A column: its ``title``, the row's key (or a function of the row) and the format ``spec`` of
    its values (``"28s"`` left-aligned text, ``">7s"`` right-aligned text, ``"8.3f"`` a number)."""

    title: str
    value: str | Callable[[dict], object]
    spec: str

    @property
    def right(self) -> bool:
        """Numbers and ``>``-aligned text are right-aligned."""
        return self.spec.startswith(">") or not self.spec.endswith("s")

    def _width(self) -> str:
        return re.match(r"[<>]?(\d*)", self.spec).group(1)

    def head(self) -> str:
        return format(self.title, ">" + self._width() + "s" if self.right else self.spec)

    def cell(self, row: dict) -> str:
        value = self.value(row) if callable(self.value) else row.get(self.value)
        return format("-", ">" + self._width()) if value is None else format(value, self.spec)


def render(rows: Iterable[dict], columns: list[Column]) -> list[str]:
    """The header line, then one line per row."""
    return [" ".join(c.head() for c in columns)] + [" ".join(c.cell(r) for c in columns) for r in rows]


def markdown(rows: Iterable[dict], columns: list[Column]) -> list[str]:
    """The rows as a Markdown table (the specs without widths: ``".2f"``, ``"s"``, ``">s"``)."""
    return ["| " + " | ".join(c.title for c in columns) + " |",
            "|" + "|".join("---:" if c.right else "---" for c in columns) + "|"] + [
        "| " + " | ".join(c.cell(r) for c in columns) + " |" for r in rows]


def write_json(rows: list[dict], path: str | None) -> None:
    """The rows as JSON in ``path`` (nothing without a path)."""
    if path:
        Path(path).write_text(json.dumps(rows, indent=2) + "\n")


METHOD, SOURCE = Column("method", "method", "28s"), Column("source", "source", "20s")
