"""The exit status of every ``imgadapt`` command, decided here: commands return :data:`OK` or
:data:`FAILED` and raise :class:`CommandError` (or let an :class:`~imgadapt.errors.ImgadaptError`
through) when they cannot run as asked; :func:`run` logs it and turns it into the status."""
from __future__ import annotations

import logging
from collections.abc import Callable

from .._paths import show
from ..errors import ImgadaptError

log = logging.getLogger("imgadapt")

OK = 0
FAILED = 1  # some inputs failed; the batch went on
USAGE = 2  # nothing was done: a bad option, a missing input folder or package, an unknown model
INTERRUPTED = 130


class CommandError(Exception):
    """A command that cannot go on: ``str(exc)`` is logged as it stands, ``status`` is the exit status."""

    def __init__(self, message: str, status: int = USAGE):
        super().__init__(message)
        self.status = status


def usage_error(exc: BaseException) -> CommandError:
    """The :class:`CommandError` that reports ``exc`` as ``error: ...``."""
    return CommandError(f"error: {show(exc)}")


def run(command: Callable[[object], int], args) -> int:
    """``command(args)``, with its errors logged and turned into the exit status."""
    try:
        return command(args)
    except CommandError as exc:
        log.error("%s", exc)
        return exc.status
    except ImgadaptError as exc:
        log.error("error: %s", show(exc))
        return USAGE
