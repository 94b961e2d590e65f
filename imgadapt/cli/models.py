"""``imgadapt models``: the installed models, one line each."""
from __future__ import annotations

from .._registry import TASKS
from .status import OK


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the installed models")
    p.add_argument("--task", choices=TASKS)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import list_models, model_info

    for name in list_models(args.task):
        card = model_info(name)
        metrics = card.get("metrics", {}).get("summary", "")
        print(f"{name:32s} {card.get('kind', ''):10s} {card.get('params', '')!s:>8s}  {metrics}")
    return OK
