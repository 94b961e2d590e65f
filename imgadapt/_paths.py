"""File names in messages and the checks a batch makes on its input and output paths.

:func:`show` makes any text safe to print on one log line: control characters (newlines, escape
sequences, bidirectional overrides) and undecodable bytes in file names are written as escapes, so
a file name cannot forge or hide log lines. The checks never follow a symbolic link loop into an
exception that escapes: a loop, a broken link or something that is not a regular file becomes an
error that names what was expected and what was found.
"""
from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path

from .errors import InputValueError

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def show(text) -> str:
    """``text`` (a path or a message) with every control, format, separator and surrogate
    character escaped as ``\\n``, ``\\x1b``, ``\\u202e`` ...; anything else is kept."""
    text = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    if text.isprintable():
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)


def reason(exc: BaseException, src=None) -> str:
    """The message of a per-file error, printable, without a leading ``"{src}: "`` (the caller
    prints the file name once). OS errors read as what they are: ``no space left on device``."""
    if isinstance(exc, OSError) and exc.strerror:
        text = _lower(exc.strerror)
        if exc.filename is not None and (src is None or os.fspath(exc.filename) != os.fspath(src)):
            text = f"{os.fspath(exc.filename)}: {text}"
    else:
        text = str(exc) or type(exc).__name__
    if src is not None and text.startswith(f"{os.fspath(src)}: "):
        text = text[len(os.fspath(src)) + 2:]
    return show(text)


def _lower(text) -> str:
    text = str(text or "")
    return text[:1].lower() + text[1:]


def _loop(err: OSError) -> bool:
    return err.errno == errno.ELOOP


def resolve_input(path: Path) -> Path:
    """The real path of an input file.

    Raises:
        FileNotFoundError: the file, or the target of its link, does not exist.
        InputValueError: a symbolic link loop, or not a regular file (a folder, pipe or device).
        OSError: another reason the file cannot be looked up (permissions, a name too long).
    """
    try:
        st = os.stat(path)
    except OSError as err:
        if _loop(err):
            raise InputValueError(f"{path}: expected a file, got a symbolic link loop "
                                  "(a link that leads back to itself)") from None
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = os.path.islink(path)
            raise FileNotFoundError(f"{path}: no such file{' (a broken symbolic link)' if broken else ''}") from None
        raise
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a pipe, socket or device"
        raise InputValueError(f"{path}: expected a regular file, got {kind}")
    return Path(os.path.realpath(path))


def resolve_folder(path: Path, what: str = "output folder") -> Path:
    """The real path of a folder that may not exist yet.

    Raises:
        InputValueError: a symbolic link loop, a broken link, or an existing file that is not a folder.
    """
    try:
        st = os.stat(path)
    except OSError as err:
        if _loop(err):
            raise InputValueError(f"{what} {path}: expected a folder, got a symbolic link loop "
                                  "(a link that leads back to itself)") from None
        if err.errno == errno.ENOENT and os.path.islink(path):
            raise InputValueError(f"{what} {path}: expected a folder, got a broken symbolic link") from None
        if err.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise InputValueError(f"{what} {path}: cannot be looked up ({_lower(err.strerror)})") from None
        # Not there yet: check the folders above it (a loop there is reported the same way).
        parent = path.absolute().parent
        if parent != path.absolute():
            resolve_folder(parent, what)
        return Path(os.path.realpath(path))
    if not stat.S_ISDIR(st.st_mode):
        raise InputValueError(f"{what}: expected a folder, got the file {path}")
    return Path(os.path.realpath(path))
