"""``imgadapt info NAME``: a model card as JSON."""
from __future__ import annotations

import json

from .status import OK


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="print a model card")
    p.add_argument("name")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import model_info

    print(json.dumps(model_info(args.name), indent=2))
    return OK
