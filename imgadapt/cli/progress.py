"""A one-line progress bar with an ETA, for batch commands (stderr, terminals only)."""
from __future__ import annotations

import shutil
import sys
import time


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``done/total [#####-----] 42% 1.3 files/s ETA 2:10``, redrawn in place.

    Args:
        total: number of items.
        unit: what the items are, for the rate (``files/s``).
        enabled: draw at all; ``None`` means only when ``stream`` is a terminal.
        stream: where to draw (stderr by default).

    Call :meth:`advance` for each finished item (``timed=False`` for items that took no work,
    such as skipped files, so they do not inflate the rate), and :meth:`clear` before printing
    anything else on the stream (the next :meth:`advance` draws the bar again).
    """

    def __init__(self, total: int, enabled: bool | None = None, stream=None, min_interval: float = 0.1,
                 unit: str = "files"):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(enabled if enabled is not None else getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.unit = unit
        self.done = 0
        self.timed = 0
        self.failed = 0
        self.start = time.perf_counter()
        self._min_interval = min_interval
        self._last_draw = 0.0
        self._shown = False

    def advance(self, timed: bool = True, failed: bool = False) -> None:
        self.done += 1
        self.timed += timed
        self.failed += failed
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= self._min_interval or self.done == self.total):
            self._last_draw = now
            self._draw(now)

    def text(self, now: float | None = None) -> str:
        elapsed = (time.perf_counter() if now is None else now) - self.start
        rate = self.timed / elapsed if elapsed > 0 and self.timed else 0.0
        remaining = self.total - self.done
        eta = _clock(remaining / rate) if rate else "?"
        pct = 100 * self.done // self.total if self.total else 100
        failed = f" {self.failed} failed" if self.failed else ""
        head = f"{self.done}/{self.total} "
        tail = f" {pct:3d}% {rate:.2f} {self.unit}/s ETA {eta} elapsed {_clock(elapsed)}{failed}"
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - len(head) - len(tail) - 3))
        filled = width * self.done // self.total if self.total else width
        return f"{head}[{'#' * filled}{'-' * (width - filled)}]{tail}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r\x1b[K" + self.text(now))
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        self.clear()
