"""``imgadapt models``: the installed models, one line each, the defaults marked."""
from __future__ import annotations

from .._registry import TASKS
from ..errors import UnknownNameError
from .status import OK


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the installed models (* marks the one used when none is named)")
    p.add_argument("--task", choices=TASKS)
    p.set_defaults(func=run)


def defaults() -> set[str]:
    """The models the API and the commands use when none is named: one per task, one per scale for sr."""
    from .._model import default_upscaler, registry

    reg, names = registry(), set()
    for task in TASKS:
        try:
            if task == "sr":
                scales = {int(reg.cards[n].get("scale", 0)) for n in reg.list(task)}
                names |= {default_upscaler(s) for s in sorted(scales)}
            elif reg.list(task):
                names.add(reg.default(task)["name"])
        except UnknownNameError:  # only user models installed: none is picked without being named
            pass
    return names


def run(args) -> int:
    from .. import list_models, model_info

    chosen = defaults()
    for name in list_models(args.task):
        card = model_info(name)
        metrics = card.get("metrics", {}).get("summary", "")
        mark = "*" if name in chosen else " "
        print(f"{mark} {name:32s} {card.get('kind', ''):10s} {card.get('params', '')!s:>8s}  {metrics}")
    if chosen:
        print("* the default of its task (and scale): used when no model is named")
    return OK
