"""``imgadapt train`` and ``imgadapt export``: the torch side of a source checkout
(``export.train.cli.main`` and ``export.onnx.cli.main``), which parses its own options."""
from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

from .status import USAGE

log = logging.getLogger("imgadapt")

COMMANDS = {"train": "export.train.cli", "export": "export.onnx.cli"}


def add_parser(sub) -> None:
    sub.add_parser("train", help="train, export and measure a model (source checkout, train extra); "
                                 "'imgadapt train --help' lists its options")
    sub.add_parser("export", help="optimise, export to ONNX, verify and report a trained model (source checkout, "
                                  "train extra); 'imgadapt export --help' lists its options")


def run(command: str, argv: list[str]) -> int:
    """``export.<module>.main(argv)``, with the checkout that holds this copy of imgadapt on the path
    (``export/`` is not installed)."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "export" / "__init__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        entry = importlib.import_module(COMMANDS[command]).main
    except ImportError as exc:
        log.error("'imgadapt %s' runs from a source checkout with the train extra "
                  "(pip install -e \".[cpu,train]\"): %s", command, exc)
        return USAGE
    return int(entry(argv) or 0)
