"""``python -m export train ...`` and ``python -m export export ...``."""
import sys

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("train",):
        sys.exit("usage: python -m export train NAME --data DIR [--val DIR] ...")
    from .train_cli import main

    sys.exit(main(sys.argv[2:]))
