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
    from .._model import default_name, registry

    reg, names = registry(), set()
    for task in TASKS:
        scales = sorted({int(reg.cards[n].get("scale", 0)) for n in reg.list(task)}) if task == "sr" else [None]
        for scale in scales:
            try:
                names.add(default_name(task, scale))
            except UnknownNameError:  # none installed, or only user models, which are never picked unnamed
                pass
    return names


def run(args) -> int:
    from .. import list_models, model_info

    chosen, marked = defaults(), False
    for name in list_models(args.task):
        card = model_info(name)
        metrics = card.get("metrics", {}).get("summary", "")
        marked |= name in chosen
        print(f"{'*' if name in chosen else ' '} {name:32s} {card.get('kind', ''):10s} "
              f"{card.get('params', '')!s:>8s}  {metrics}")
    if marked:
        print("* the default of its task (and scale): used when no model is named")
    return OK
