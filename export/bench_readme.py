"""``python -m export.bench_readme``: the command the README cites to regenerate its benchmark sections
(:mod:`export.docs.readme`)."""
import sys

from .docs.readme import main

if __name__ == "__main__":
    sys.exit(main())
