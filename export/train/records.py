"""What a card records about how a model was made: portable paths, the command, the training record
of the checkpoint it started from, and the evaluation rows measured through the runtime."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def portable(path):
    """A path as recorded in a card: relative to the checkout when inside it, else its last parts;
    several folders (``--data A B``) as a list of such paths, one folder as a string."""
    if isinstance(path, (list, tuple)):
        return portable(path[0]) if len(path) == 1 else [portable(p) for p in path]
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return "/".join(p.parts[-2:])


_UNRECORDED = ("--out", "--runs", "--minutes", "--device")


def command(argv: list[str], steps: int | None = None) -> str:
    """The command as recorded in a card: paths made portable; where the files went and how the run
    was scheduled (``--out``, ``--runs``, ``--minutes``, ``--device``) left out since they do not
    change the model; ``steps`` (a schedule fitted to a time budget) replaces ``--fit-steps`` and the
    value of ``--steps``."""
    words, skip = [], False
    for a in argv:
        if skip or a in _UNRECORDED or a.startswith(tuple(o + "=" for o in _UNRECORDED)):
            skip = a in _UNRECORDED
            continue
        if a == "--fit-steps" and steps is not None:
            continue
        words.append(portable(a) if Path(a).exists() else a)
    if steps is not None:
        for i, w in enumerate(words):
            if w == "--steps" and i + 1 < len(words):
                words[i + 1] = str(steps)
            elif w.startswith("--steps="):
                words[i] = f"--steps={steps}"
    return "imgadapt train " + shlex.join(words)


def init_train(init: str | None) -> dict | None:
    """The training record of the checkpoint a network started from (its card next to it), so the
    card still says how that start was made once the file at that path is replaced."""
    card = Path(init).with_suffix(".json") if init else None
    return json.loads(card.read_text()).get("train") if card and card.is_file() else None


def eval_rows(out_dir: Path, task_args: list[str], name: str, extra: list[str] = ()) -> list[dict]:
    """``imgadapt eval TASK_ARGS`` in a fresh, torch-free process (as a user runs it), so torch's
    thread pool cannot skew the timings; returns its JSON rows. The model just trained in
    ``out_dir`` is the one measured, also when it carries a shipped model's name."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.json"
        env = dict(os.environ, IMGADAPT_MODEL_PATH=str(Path(out_dir).resolve()), IMGADAPT_ALLOW_OVERRIDE="1")
        subprocess.run([sys.executable, "-m", "imgadapt.cli", "eval", *task_args,
                        "--models", name, "--json", str(rows_path), *extra], check=True, env=env)
        return json.loads(rows_path.read_text())
