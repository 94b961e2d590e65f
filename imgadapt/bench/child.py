"""``python -m imgadapt.bench.child``: one peak-memory measurement in a fresh process (a JSON spec of
:func:`imgadapt.bench.suite.prepare` on stdin, the JSON result of
:func:`imgadapt.bench.peak_memory.profile` on stdout), started by :func:`imgadapt.bench.peak_memory.measure`."""
from __future__ import annotations

import json
import sys

from .peak_memory import profile
from .suite import prepare


def main() -> int:
    spec = json.loads(sys.stdin.read())
    inputs, call, megapixels = prepare(spec)
    print(json.dumps(profile(inputs, call, megapixels, int(spec.get("repeats", 0)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
