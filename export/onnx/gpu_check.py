"""``python -m export.gpu_check --out DIR``: the CUDA checks of every shipped model in one go.

For a GPU machine (one run, a few minutes): per shipped model, the largest difference between the
CUDA and the CPU output in output levels, and between tiled and untiled CUDA output; for
``demosaic/pafu-linear`` on a 24-MP uint16 mosaic, the public API's throughput against the graph's
alone (input already on the device), and 256 frames of 512x512 in batches against a loop; per trainable architecture, training steps per second. Writes
``gpu_check.json`` in ``--out`` and prints a summary. ``--device cpu --quick`` runs the same code on
small frames on the CPU, which is how the test suite keeps it working.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from imgadapt.bench.timing import median_seconds

SHIPPED_FRAME = (1152, 1536)
API_FRAME = (4000, 6000)  # 24 MP


def _frame(task: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth random scene with edges (uint8): BGR, or a Bayer mosaic for demosaicking."""
    import cv2

    h, w = shape
    small = rng.random((max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    img = cv2.GaussianBlur(img, (0, 0), 1.5) + 0.05 * rng.standard_normal((h, w, 3)).astype(np.float32)
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    if task == "demosaic":
        from imgadapt import bayer

        return bayer.mosaic(img, "RGGB")
    return img


def _levels(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference in output levels (8-bit levels for the float edge probabilities)."""
    scale = 255.0 if a.dtype.kind == "f" else 1.0
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max() * scale)


def parity(device: str, shape: tuple[int, int], names: list[str] | None = None) -> list[dict]:
    """CUDA (``device``) against CPU output, and tiled against untiled on ``device``, per model."""
    import imgadapt

    rows = []
    rng = np.random.default_rng(0)
    for name in names or imgadapt.list_models():
        task = imgadapt.model_info(name)["task"]
        x = _frame(task, shape, rng)
        cpu = imgadapt.load(name, providers=["cpu"], tile=0)(x)
        dev_untiled = imgadapt.load(name, providers=[device], strict=True, tile=0)(x)
        dev_tiled = imgadapt.load(name, providers=[device], strict=True, tile=256)(x)
        rows.append({"model": name, "device_vs_cpu_levels": _levels(dev_untiled, cpu),
                     "tiled_vs_untiled_levels": _levels(dev_tiled, dev_untiled)})
    return rows


def api_overhead(device: str, shape: tuple[int, int], repeats: int, name: str = "demosaic/pafu-linear") -> dict:
    """Megapixels per second of the public API on a uint16 mosaic against the bare graph on a
    float32 mosaic already on the device (IO binding), in one process."""
    import imgadapt
    from imgadapt.session import ort as onnxruntime

    ort = onnxruntime()
    model = imgadapt.load(name, providers=[device], strict=True)
    mosaic = (_frame("demosaic", shape, np.random.default_rng(1)).astype(np.uint16) * 257)
    x = (mosaic.astype(np.float32) / 65535)[None, None]
    session = model.session
    ort_device = "cuda" if device == "cuda" else "cpu"
    bound = session.io_binding()
    bound.bind_ortvalue_input(session.get_inputs()[0].name, ort.OrtValue.ortvalue_from_numpy(x, ort_device, 0))
    bound.bind_output(session.get_outputs()[0].name, ort_device)

    def graph():
        session.run_with_iobinding(bound)
        bound.synchronize_outputs()

    megapixels = shape[0] * shape[1] / 1e6
    api_s = median_seconds(lambda: model(mosaic), repeats)
    graph_s = median_seconds(graph, repeats)
    stages = chain_stages(model, mosaic, repeats)
    return {"model": name, "frame": list(shape), "api_mp_s": megapixels / api_s, "graph_mp_s": megapixels / graph_s,
            "api_over_graph": graph_s / api_s, "chain_stage_ms": stages}


def chain_stages(model, frame: np.ndarray, repeats: int) -> dict:
    """Median milliseconds of each stage of the chained call (upload, pre graph, model, post graph
    and copy to the host), each stage synchronised; empty when the model does its per-pixel work on
    the host (the CPU provider)."""
    from imgadapt.session import chain_stage_timings

    with chain_stage_timings() as seconds:
        for _ in range(repeats + 1):
            model(frame)
        calls = seconds[1:] or seconds
    return {k: 1000 * float(np.median([c[k] for c in calls])) for k in (calls[0] if calls else {})}


def batch_speed(device: str, frames: int, size: int, name: str = "demosaic/pafu-linear") -> dict:
    """Frames per second of ``frames`` mosaics of ``size`` x ``size`` through ``Model.batch`` against
    a loop of single calls, and whether both give the same frames."""
    import imgadapt

    model = imgadapt.load(name, providers=[device], strict=True)
    stack = np.stack([_frame("demosaic", (size, size), np.random.default_rng(i)) for i in range(frames)])
    batched = model.batch(stack)
    looped = np.stack([model(f) for f in stack])
    batch_s = median_seconds(lambda: model.batch(stack), 3)
    loop_s = median_seconds(lambda: [model(f) for f in stack], 3)
    return {"model": name, "frames": frames, "size": size, "batch_frames_s": frames / batch_s,
            "loop_frames_s": frames / loop_s, "batch_equals_loop": bool(np.array_equal(batched, looped))}


def training_speed(device: str, steps: int, patch: int) -> list[dict]:
    """Optimiser steps per second of each network family on ``device`` (batch 16, random data)."""
    import torch

    from .. import nets

    rows = []
    for name in nets.list_architectures():
        if "tiny" in name:
            continue
        model = nets.create(name).to(device).train()
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        x = torch.rand(16, 1, patch, patch, device=device)
        try:
            model(x[:1])
        except (RuntimeError, ValueError):  # a colour network
            x = torch.rand(16, 3, patch, patch, device=device)

        def step():
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
            if device == "cuda":
                torch.cuda.synchronize()

        seconds = median_seconds(lambda: [step() for _ in range(steps)], 3) / steps
        rows.append({"architecture": name, "steps_per_s": 1.0 / seconds, "batch": 16, "patch": patch})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.gpu_check", description=__doc__)
    parser.add_argument("--out", required=True, help="folder for gpu_check.json")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="small frames and few steps (a smoke test)")
    parser.add_argument("--models", nargs="*", default=None, help="shipped models to check (default: all)")
    parser.add_argument("--no-training", action="store_true", help="skip the training-speed part")
    args = parser.parse_args(argv)
    quick = args.quick
    report = {"device": args.device, "quick": quick,
              "parity": parity(args.device, (96, 128) if quick else SHIPPED_FRAME, args.models),
              "api": api_overhead(args.device, (256, 384) if quick else API_FRAME, 1 if quick else 5),
              "batch": batch_speed(args.device, 4 if quick else 256, 64 if quick else 512)}
    if not args.no_training:
        report["training"] = training_speed(args.device, 1 if quick else 20, 32 if quick else 128)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    for row in report["parity"]:
        print(f"{row['model']:34s} {args.device} vs cpu {row['device_vs_cpu_levels']:8.3f} levels   "
              f"tiled vs untiled {row['tiled_vs_untiled_levels']:8.3f}")
    api = report["api"]
    print(f"{api['model']} {api['frame']}: API {api['api_mp_s']:.1f} MP/s, graph {api['graph_mp_s']:.1f} MP/s "
          f"({100 * api['api_over_graph']:.0f} % of the graph); chained stages (ms): "
          + (", ".join(f"{k} {v:.1f}" for k, v in api["chain_stage_ms"].items()) or "none (host path)"))
    batch = report["batch"]
    print(f"{batch['model']} {batch['frames']} frames of {batch['size']}^2: batch {batch['batch_frames_s']:.1f} "
          f"frames/s, loop {batch['loop_frames_s']:.1f} frames/s, equal: {batch['batch_equals_loop']}")
    for row in report.get("training", []):
        print(f"{row['architecture']:34s} {row['steps_per_s']:8.2f} steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
