"""``python -m export train ...``, ``python -m export export ...`` and ``python -m export ablation MODEL_CARD ABLATION_CARD``."""
import json
import sys
from pathlib import Path

USAGE = ("usage: python -m export train NAME --data DIR [--val DIR] ...\n"
         "       python -m export export NAME|CHECKPOINT -o OUT.onnx ...\n"
         "       python -m export ablation MODEL_CARD.json ABLATION_CARD.json")


def attach_ablation(card_path: str, ablation_path: str) -> dict:
    """Record a plain-convolution ablation's training command and validation figures in a card."""
    card, ablation = (json.loads(Path(p).read_text()) for p in (card_path, ablation_path))
    metrics = ablation.get("metrics", {})
    card["ablation"] = {
        "name": ablation["name"], "description": ablation.get("description", ""),
        "params": ablation["params"], "command": ablation["train"]["command"],
        "psnr_db": metrics.get("psnr_db"), "mp_s": metrics.get("mp_s"),
        "delta_db": round(card["metrics"]["psnr_db"] - metrics["psnr_db"], 3) if metrics else None,
    }
    Path(card_path).write_text(json.dumps(card, indent=2) + "\n")
    return card["ablation"]


if __name__ == "__main__":
    commands = {"train": "train.cli", "export": "onnx.cli"}
    if len(sys.argv) >= 2 and sys.argv[1] in commands:
        import importlib

        sys.exit(importlib.import_module(f".{commands[sys.argv[1]]}", __package__).main(sys.argv[2:]))
    if len(sys.argv) == 4 and sys.argv[1] == "ablation":
        print(json.dumps(attach_ablation(sys.argv[2], sys.argv[3]), indent=2))
        sys.exit(0)
    sys.exit(USAGE)
