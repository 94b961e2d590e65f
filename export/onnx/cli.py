"""``imgadapt export NAME|CHECKPOINT -o OUT.onnx``: optimise, export, verify and report a trained model.

The checkpoint (``models/NAME.pt`` for a shipped model, or any ``.pt`` written by ``imgadapt train``)
is rebuilt from its architecture name and config, then optimised for inference, each step
switchable and measured on calibration images:

1. envelope shrinking (:func:`export.onnx.optimize.shrink_if_harmless`, kept only within 0.05 dB);
2. single-kernel PAFU collapse and pruning of never-picked kernels (:mod:`export.onnx.pafu_collapse`);
3. Gaussian-derivative and BatchNorm folding into plain convolutions (:mod:`export.onnx.folding`);
4. export with dynamic batch, height and width, then constant folding and graph simplification
   (:func:`export.onnx.graph.simplify`).

The graph is verified against the optimised torch model on random and calibration inputs and the
export fails (:class:`~imgadapt.errors.ExportVerificationError`, exit status 2) beyond the
tolerance. The report (nodes, weights, multiply-adds per pixel and throughput before and after in
one run, calibration metric change) goes into the ONNX metadata ``imgadapt.optimizations``, into
the model card written next to the output (``OUT.json``) and, with ``--report``, into a JSON file.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from imgadapt.cli.args import count
from imgadapt.errors import ImgadaptError

from ..train.data import load_folder
from .pafu_collapse import COLLAPSE_SHARE
from .pipeline import (calibration, export_model, finish_card, load_checkpoint, resolve_checkpoint, sample_images,
                       write_outputs)
from .ship import ONNX_TOLERANCE

log = logging.getLogger("imgadapt.export")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imgadapt export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a shipped model name (reads models/NAME.pt) or a checkpoint file NAME.pt")
    p.add_argument("-o", "--output", required=True, help="the ONNX file to write; the card goes to OUT.json")
    p.add_argument("--calib", default=None, help="folder of calibration images (default: the bundled sample image)")
    p.add_argument("--no-shrink-envelope", dest="shrink", action="store_false", help="keep the trained envelopes")
    p.add_argument("--no-collapse-pafu", dest="collapse", action="store_false",
                   help=f"keep every PAFU whole (no collapse at >= {100 * COLLAPSE_SHARE:g} %% one kernel, no pruning)")
    p.add_argument("--fp16", action="store_true",
                   help="also write OUT.fp16.onnx: fp16 weights and compute, fp32 inputs and outputs (GPU serving)")
    p.add_argument("--report", default=None, help="write the optimisation report as JSON here")
    p.add_argument("--tolerance", type=float, default=ONNX_TOLERANCE,
                   help=f"largest accepted |onnxruntime - torch| (default {ONNX_TOLERANCE:g})")
    p.add_argument("--bench-size", type=count(1), default=512, help="input side of the speed measurement")
    p.add_argument("--bench-runs", type=count(1), default=7, help="timed runs per model (median)")
    p.add_argument("--threads", type=count(1), default=None, help="torch threads")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        path = resolve_checkpoint(args.model)
        model, card = load_checkpoint(path)
        io = card.get("input", {})
        channels, multiple = int(io.get("channels", 1)), int(io.get("multiple", 1))
        if args.calib:
            images = load_folder(args.calib)
            source = f"{len(images)} images of {Path(args.calib).name}"
        else:
            images, source = sample_images(), "bundled sample image (imgadapt/data/astronaut_rggb.png binned 2x2)"
        calib = calibration(card["task"], model, images, source)
        log.info("%s: %d calibration tiles from %s", card["name"], len(calib.inputs), source)
        result = export_model(model, card["task"], calib, channels=channels, multiple=multiple, shrink=args.shrink,
                              collapse=args.collapse, fp16=args.fp16, tolerance=args.tolerance,
                              bench_size=args.bench_size, bench_runs=args.bench_runs)
        card = finish_card(card, result, channels, args.bench_size, args.bench_runs)
        card = write_outputs(result, card, Path(args.output), Path(args.report) if args.report else None)
    except (ImgadaptError, FileNotFoundError) as exc:
        log.error("error: %s", exc)
        return 2
    s = result.summary
    print(json.dumps({"name": card["name"], "onnx": str(args.output), "onnx_sha256": card["onnx_sha256"],
                      "graph": {k: {m: v[m] for m in ("nodes", "params", "macs_per_pixel")}
                                for k, v in s["graph"].items()},
                      "speedup": s["throughput"]["speedup"], "calibration": s["calibration"]["metric"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
