"""The ``imgadapt`` command line."""
from __future__ import annotations

import argparse
import logging
import sys

from .._version import __version__
from . import bench, convert, demosaic, edges, evaluate, info, models, status, torch_side, upscale

# The sub-commands in the order of ``imgadapt --help``; each module adds its parser.
COMMANDS = (models, info, demosaic, upscale, edges, convert, evaluate, bench, torch_side)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgadapt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"imgadapt {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only report errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in torch_side.COMMANDS:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return torch_side.run(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    return status.run(args.func, args)

