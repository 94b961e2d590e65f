"""``python -m export.boundary_scenes``: the command the edge models' cards record
(:mod:`export.train.scenes`)."""
import sys

from .train.scenes import main

if __name__ == "__main__":
    sys.exit(main())
