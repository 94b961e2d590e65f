"""The export pipeline of ``imgadapt export`` (:mod:`export.onnx.cli`): a checkpoint rebuilt from the
registry, calibration data, the optimisation passes measured one by one, the verified graph, the
card and the report."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from imgadapt.errors import InputSizeError, ModelIntegrityError, UnknownNameError

from . import graph
from .. import nets
from ..train.data import mosaic_rggb, quantize
from .folding import fold_batchnorms, fold_gaussian_derivatives
from .convert import OPSET, to_onnx_bytes
from .optimize import mean_psnr, shrink_envelopes, shrink_if_harmless
from .pafu_collapse import collapse_pafus
from .ship import ONNX_TOLERANCE, count_params, faster_graph_optimization, verify_onnx, write_card

log = logging.getLogger("imgadapt.export")
REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
SAMPLE = REPO / "imgadapt" / "data" / "astronaut_rggb.png"
TILE, MAX_TILES, PSNR_BORDER = 96, 64, 8


@dataclass(frozen=True)
class Calibration:
    """Calibration inputs of a model, their targets (``None`` when the task has no reference, as
    boundary detection without annotations), the output margin the metric skips, and a description."""

    inputs: torch.Tensor
    targets: torch.Tensor | None
    margin: int
    source: str


# ------------------------------------------------------------------------------- checkpoints --

def resolve_checkpoint(source: str, models: Path = MODELS) -> Path:
    """``models/NAME.pt`` for a shipped model's name, or the checkpoint file ``source`` itself."""
    path = Path(source)
    if path.suffix == ".pt" and path.is_file():
        return path
    shipped = Path(models) / f"{source}.pt"
    if shipped.is_file():
        return shipped
    known = sorted(str(p.relative_to(models).with_suffix("")) for p in Path(models).rglob("*.pt"))
    raise UnknownNameError(f"model: expected a shipped model name ({', '.join(known) or 'none in ' + str(models)}) "
                           f"or a checkpoint file NAME.pt, got {source!r}")


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """The trained network of a checkpoint (eval mode) and its model card (the ``.json`` next to
    it, else a minimal card from the architecture)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    missing = [k for k in ("arch", "config", "state_dict") if not isinstance(state, dict) or k not in state]
    if missing:
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ModelIntegrityError(f"{path.name}: expected a checkpoint with keys arch, config, state_dict, got {got}")
    model = nets.create(state["arch"], **state["config"])
    model.load_state_dict(state["state_dict"])
    card_path = Path(path).with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else minimal_card(state["arch"], model)
    return model.eval(), card


def minimal_card(arch: str, model: torch.nn.Module) -> dict:
    """The card of a checkpoint that has none: the registry's fields of its architecture and what the
    runtime needs to serve the model."""
    from ..train.runs import MOSAIC_INPUT

    card = {**nets.get(arch).card(model), "receptive_field": model.receptive_field}
    task = card["task"]
    if task == "demosaic":
        card["input"] = MOSAIC_INPUT
    else:
        card["input"] = {"channels": 1, "multiple": int(getattr(model, "multiple", 1))}
    if task == "sr":
        card["scale"] = model.scale
    return card


# ------------------------------------------------------------------------------- calibration --

def sample_images() -> list[np.ndarray]:
    """The bundled sample: the 256x256 RGGB mosaic binned 2x2 to a 128x128 RGB image in [0, 1]."""
    mosaic = cv2.imread(str(SAMPLE), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    green = (mosaic[0::2, 1::2] + mosaic[1::2, 0::2]) / 2
    return [np.ascontiguousarray(np.stack([mosaic[0::2, 0::2], green, mosaic[1::2, 1::2]], axis=2))]


def tiles(images: list[np.ndarray], size: int, limit: int = MAX_TILES) -> torch.Tensor:
    """Half-overlapping ``size`` x ``size`` tiles of RGB images, 8-bit quantised: ``(N, 3, size, size)``."""
    out = []
    for img in images:
        h, w = img.shape[:2]
        if min(h, w) < size:
            continue
        for y in sorted({*range(0, h - size, size // 2), h - size}):
            for x in sorted({*range(0, w - size, size // 2), w - size}):
                out.append(img[y:y + size, x:x + size])
    if not out:
        got = ", ".join(f"{im.shape[1]}x{im.shape[0]}" for im in images[:5]) or "no images"
        raise InputSizeError(f"calibration: expected images of at least {size}x{size} pixels, got {got}")
    picks = np.linspace(0, len(out) - 1, min(limit, len(out))).round().astype(int)
    batch = torch.from_numpy(np.stack([out[i] for i in picks])).permute(0, 3, 1, 2).contiguous()
    return quantize(batch)


def calibration(task: str, model: torch.nn.Module, images: list[np.ndarray], source: str) -> Calibration:
    """Inputs, targets and metric margin of ``task`` on tiles of the RGB ``images``.

    demosaic: RGGB mosaics of the tiles, RGB PSNR 8 px in from the border; sr: luma of the
    antialiased-bicubic downscale, Y-PSNR ``scale`` px in; edges: the tiles' luma, no targets.
    """
    from imgadapt.bench.resize import downscale

    from ..train.sr import luma

    if task == "demosaic":
        rgb = tiles(images, TILE)
        b = PSNR_BORDER
        return Calibration(mosaic_rggb(rgb), rgb[..., b:-b, b:-b], b, source)
    if task == "sr":
        s = model.scale
        hr = tiles(images, TILE - TILE % s)
        hr8 = (hr.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        lr = torch.from_numpy(np.stack([downscale(im, s) for im in hr8]).astype(np.float32) / 255)
        return Calibration(luma(lr.permute(0, 3, 1, 2)), luma(hr)[..., s:-s, s:-s], s, source)
    if task == "edges":
        return Calibration(luma(tiles(images, TILE)), None, 0, source)
    raise UnknownNameError(f"task: expected demosaic, sr or edges, got {task!r}")


@torch.no_grad()
def _outputs(model: torch.nn.Module, inputs: torch.Tensor, batch: int = 8) -> torch.Tensor:
    model.eval()
    return torch.cat([model(inputs[i:i + batch]) for i in range(0, len(inputs), batch)])


def measure(model: torch.nn.Module, calib: Calibration, reference: torch.Tensor) -> dict:
    """The calibration metric of ``model`` (PSNR in dB where there are targets) and its largest and
    mean absolute deviation from ``reference`` outputs (those of the model as trained)."""
    out = _outputs(model, calib.inputs)
    diff = (out - reference).abs()
    result = {"max_abs_diff": round(float(diff.max()), 6), "mean_abs_diff": round(float(diff.mean()), 7)}
    if calib.targets is not None:
        result["psnr_db"] = round(mean_psnr(model, calib.inputs, calib.targets, calib.margin), 4)
    return result


# ---------------------------------------------------------------------------------- pipeline --

@dataclass
class ExportResult:
    onnx: bytes
    model: torch.nn.Module
    summary: dict
    fp16: bytes | None = None


def _check_inputs(channels: int, multiple: int) -> list[torch.Tensor]:
    """Two random inputs of different sizes (each a multiple of ``multiple``): dynamic H and W."""
    rng = np.random.default_rng(0)
    sizes = [(64, 96), (38 - 38 % multiple, 22 - 22 % multiple)]
    return [torch.from_numpy(rng.random((1, channels, h, w), dtype=np.float32)) for h, w in sizes]


def _shrink(model, calib: Calibration, enabled: bool) -> tuple[torch.nn.Module, dict]:
    if not enabled:
        return model, {"optimization": "envelope shrinking", "enabled": False}
    if calib.targets is None:
        small, layers = shrink_envelopes(model)
        report = {"optimization": "envelope shrinking", "applied": bool(layers), "layers": layers,
                  "note": "no calibration targets for this task: applied without a metric gate"}
        return small, report
    small, report = shrink_if_harmless(model, calib.inputs, calib.targets, calib.margin)
    return small, dict(report or {"optimization": "envelope shrinking", "applied": False, "layers": []},
                       calibration=calib.source)


def _collapse(model, calib: Calibration, enabled: bool, reference: torch.Tensor) -> tuple[torch.nn.Module, dict]:
    if not enabled:
        return model, {"optimization": "pafu collapse", "enabled": False}
    result, report = collapse_pafus(model, calib.inputs)
    if report["applied"]:
        report["calibration"] = {"before": measure(model, calib, reference), "after": measure(result, calib, reference)}
    return result, report


def _fp16_report(fp16: bytes, fp32_metric: dict, calib: Calibration, reference: torch.Tensor) -> dict:
    report = {"inputs_outputs": "float32", "weights_compute": "float16"}
    try:
        module = graph.OnnxModule(fp16)
    except RuntimeError as exc:  # onnxruntime on this CPU may lack fp16 kernels
        return {**report, "ran_on_cpu": False, "reason": str(exc).splitlines()[0][:200]}
    metric = measure(module, calib, reference)
    report.update(ran_on_cpu=True, calibration=metric,
                  note="accuracy measured with onnxruntime CPU; fp16 speed is a GPU figure, not measured here")
    if "psnr_db" in metric:
        report["change_db_vs_fp32"] = round(metric["psnr_db"] - fp32_metric["psnr_db"], 4)
    return report


def export_model(model: torch.nn.Module, task: str, calib: Calibration, *, channels: int = 1, multiple: int = 1,
                 shrink: bool = True, collapse: bool = True, fp16: bool = False,
                 tolerance: float = ONNX_TOLERANCE, bench_size: int = 512, bench_runs: int = 7,
                 graph_pass=None) -> ExportResult:
    """Optimise ``model`` for inference, export it, verify the graph and measure every step.

    Args:
        model: the trained network (left unchanged).
        task: ``demosaic``, ``sr`` or ``edges`` (the calibration metric).
        calib: calibration data, see :func:`calibration`.
        channels: input channels of the network.
        multiple: the input height and width must be multiples of this (Bayer phase, strides).
        shrink: shrink Gaussian envelopes (kept only within 0.05 dB on the calibration set).
        collapse: collapse single-selection PAFUs and prune never-picked kernels.
        fp16: also make the fp16 variant (fp32 inputs and outputs) and report its accuracy.
        tolerance: largest accepted |onnxruntime - torch| on the verification inputs.
        bench_size: side of the square input of the throughput measurement.
        bench_runs: timed runs per model (median).
        graph_pass: the ONNX simplification, :func:`export.onnx.graph.simplify` when ``None``.

    Returns:
        The optimised ONNX bytes (without metadata), the optimised torch model, the summary and,
        with ``fp16``, the fp16 variant.

    Raises:
        ExportVerificationError: the graph differs from the optimised torch model beyond ``tolerance``.
    """
    model = model.eval()
    reference = _outputs(model, calib.inputs)
    example = torch.zeros(1, channels, 32, 32)
    before = to_onnx_bytes(model, example)
    optimised, shrink_report = _shrink(model, calib, shrink)
    optimised, collapse_report = _collapse(optimised, calib, collapse, reference)
    optimised, gd_report = fold_gaussian_derivatives(optimised)
    optimised, bn_report = fold_batchnorms(optimised)
    traced = to_onnx_bytes(optimised, example)
    after = (graph_pass or graph.simplify)(traced)
    checks = _check_inputs(channels, multiple)
    calib_chunks = list(calib.inputs.split(8))
    worst = verify_onnx(optimised, after, checks + calib_chunks, tolerance)
    stats = {"before": graph.graph_stats(before, channels), "after": graph.graph_stats(after, channels)}
    bn_report["batchnorm_nodes_after"] = stats["after"]["ops"].get("BatchNormalization", 0)
    speed = graph.compare_throughput({"before": before, "after": after}, channels, bench_size, bench_runs)
    speed["speedup"] = round(speed["before"]["ms"] / max(speed["after"]["ms"], 1e-9), 3)
    metric = {"before": measure(graph.OnnxModule(before), calib, reference),
              "after": measure(graph.OnnxModule(after), calib, reference)}
    if calib.targets is not None:
        metric["change_db"] = round(metric["after"]["psnr_db"] - metric["before"]["psnr_db"], 4)
    simplify_report = {"optimization": "constant folding and graph simplification",
                       "tool": "onnxruntime offline optimisation, basic level",
                       "nodes": {"traced": len(graph._onnx().load_from_string(traced).graph.node),
                                 "simplified": stats["after"]["nodes"]}}
    dims = [d.dim_param or d.dim_value for d in graph._onnx().load_from_string(after).graph.input[0].type
            .tensor_type.shape.dim]
    summary = {
        "optimizations": [shrink_report, collapse_report, gd_report, bn_report, simplify_report,
                          {"optimization": "dynamic height and width", "input": dims,
                           "verified_on": [list(x.shape) for x in checks]}],
        "graph": stats,
        "throughput": {**speed, "note": "onnxruntime CPU, same run, models taking turns; ratios are the figure"},
        "calibration": {"source": calib.source, "inputs": list(calib.inputs.shape), "metric": metric,
                        "reference": "max/mean_abs_diff: against the model as trained (torch)"},
        "verification": {"tolerance": tolerance, "max_abs_diff": worst,
                         "inputs": [list(x.shape) for x in checks] + [f"{len(calib.inputs)} calibration tiles"]},
    }
    half = None
    if fp16:
        half = graph.to_fp16(after)
        summary["fp16"] = _fp16_report(half, metric["after"], calib, reference)
    return ExportResult(after, optimised, summary, half)


# ------------------------------------------------------------------------------------ output --

def finish_card(card: dict, result: ExportResult, channels: int, bench_size: int, bench_runs: int) -> dict:
    """The model card of the exported graph: the checkpoint's card with the export's figures."""
    card = {k: v for k, v in card.items() if not k.startswith("_") and k != "onnx_sha256"}
    if "metrics" in card:
        card["metrics"] = dict(card["metrics"], graph="measured on the graph before this export; the export's "
                               "calibration change is in export.calibration; 'imgadapt eval' refreshes them")
    card.update(params=count_params(result.model), opset=OPSET, export=result.summary,
                verification={k: result.summary["verification"][k] for k in ("max_abs_diff", "tolerance", "inputs")},
                runtime=faster_graph_optimization(result.onnx, channels, bench_size, bench_runs))
    if hasattr(result.model, "receptive_field"):
        card["receptive_field"] = result.model.receptive_field
    return card


def write_outputs(result: ExportResult, card: dict, out: Path, report: Path | None = None) -> dict:
    """Write ``OUT.onnx`` (and ``OUT.fp16.onnx``) with the metadata, ``OUT.json`` and the report."""
    import hashlib

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    half_path = out.with_suffix(".fp16.onnx")
    if result.fp16 is not None:
        result.summary["fp16"]["onnx"] = half_path.name
    props = {graph.METADATA_KEY: graph.dumps(result.summary), "imgadapt.card": graph.dumps(card)}
    data = graph.set_metadata(result.onnx, props)
    out.write_bytes(data)
    card = dict(card, onnx=out.name, onnx_sha256=hashlib.sha256(data).hexdigest())
    if result.fp16 is not None:
        half = graph.set_metadata(result.fp16, props)
        half_path.write_bytes(half)
        card["export"] = dict(card["export"], fp16=dict(card["export"]["fp16"], onnx_sha256=hashlib.sha256(half).hexdigest()))
    write_card(out.with_suffix(".json"), card)
    if report is not None:
        Path(report).write_text(json.dumps(result.summary, indent=2) + "\n")
    return card
