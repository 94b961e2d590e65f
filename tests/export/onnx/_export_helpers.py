"""Shared set-up of the export-tool tests: a tiny model, its calibration and a fast export (cached, as
an export takes about a second; the results are only read)."""
import functools
import json

import numpy as np
import torch

from export.onnx.pipeline import calibration, export_model, sample_images
from export.nets import create

FAST = {"bench_size": 32, "bench_runs": 1}


def tiny_export(arch: str = "demosaic/pafu-net-tiny", config: dict | None = None, **options):
    """``(model, calibration, result)`` of a freshly built tiny model exported with ``options``."""
    if "graph_pass" in options:
        return _export(arch, json.dumps(config or {}), **options)
    return _cached(arch, json.dumps(config or {}), tuple(sorted(options.items())))


@functools.lru_cache(maxsize=None)
def _cached(arch: str, config: str, options: tuple):
    return _export(arch, config, **dict(options))


def _export(arch: str, config: str, **options):
    torch.manual_seed(0)
    model = create(arch, **json.loads(config)).eval()
    task = arch.split("/")[0]
    calib = calibration(task, model, sample_images(), "bundled sample")
    return model, calib, export_model(model, task, calib, multiple=2, **{**FAST, **options})


def broken(onnx_bytes: bytes) -> bytes:
    """The graph with its largest weight tensor negated: a deliberately wrong export."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    init.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(init), init.name))
    return model.SerializeToString()
