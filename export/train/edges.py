"""Training of the boundary networks on synthetic scenes made on the fly, with HED's class-balanced loss.

Targets: the scenes' one-pixel region borders are the positives. Their 8-neighbours that are not
borders themselves are left out of the loss (the rasterised border sits on one side of the true,
sub-pixel edge, so those pixels are as much boundary as not); every other pixel is a negative.
Loss (HED): binary cross-entropy on the logits, per crop, positives weighted by the share of
negatives and negatives by the share of positives among the pixels counted.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from imgadapt.errors import InputValueError

from .. import nets
from .scenes import MANIFEST, boundary_scene, load_sources
from .data import IGNORED

log = logging.getLogger("imgadapt.train")
TARGETS = ("one-pixel region borders of the synthetic scenes are positives; their 8-neighbours off the border "
           "are ignored; all other pixels are negatives")
LOSS = ("class-balanced binary cross-entropy on the logits (HED): per crop, positives weighted by the share of "
        "negatives, negatives by the share of positives")


def edge_targets(border: np.ndarray) -> np.ndarray:
    """``HxW`` bool borders to float32 targets: 1 on the border, :data:`IGNORED` next to it, else 0."""
    near = cv2.dilate(border.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(border, 1.0, np.where(near, IGNORED, 0.0)).astype(np.float32)


def source_tiles(sources, side: int) -> list[np.ndarray]:
    """The sources cut into overlapping ``side`` x ``side`` tiles at their own resolution (stride
    ``side / 2``; a smaller source stays whole). A scene region takes a crop of one source at a
    scale of 0.5 to 1.5, so tiles twice the scene's side hold the same crops while every fill
    resizes a tile rather than a whole photo, which made scene generation as slow as a training step."""
    tiles = []
    for src in sources:
        h, w = src.shape[:2]
        if min(h, w) <= side:
            tiles.append(src)
            continue
        stride = side // 2
        for y in sorted({*range(0, h - side, stride), h - side}):
            for x in sorted({*range(0, w - side, stride), w - side}):
                tiles.append(np.ascontiguousarray(src[y:y + side, x:x + side]))
    return tiles


def edge_batches(sources, batch: int, size: int, pad: int):
    """A ``batch_fn`` for :func:`~export.train.network.train_network`: gray scenes of ``size + 2 * pad``
    pixels drawn from ``sources`` (cut by :func:`source_tiles`) with the trainer's generator, the
    targets of their central ``size`` square and the margin ``pad`` (the network sees real context
    around the crop it is judged on)."""
    if size < 8 or pad < 0:
        raise ValueError(f"edge crops: expected size >= 8 and pad >= 0, got size={size}, pad={pad}")
    side = size + 2 * pad
    sources = source_tiles(sources, 2 * side)

    def make(rng):
        images, targets = np.empty((batch, 1, side, side), np.float32), np.empty((batch, 1, size, size), np.float32)
        for i in range(batch):
            image, border = boundary_scene(sources, side, rng, gray=True)
            images[i, 0] = image / np.float32(255)
            targets[i, 0] = edge_targets(border)[pad:pad + size, pad:pad + size]
        return torch.from_numpy(images), torch.from_numpy(targets), pad
    return make


def balanced_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """HED's class-balanced BCE with logits; ``target`` holds 1, 0 or :data:`IGNORED` per pixel.

    Shape:
        ``(N, 1, H, W), (N, 1, H, W) -> ()``
    """
    if logits.shape != target.shape:
        raise ValueError(f"balanced_bce: logits {tuple(logits.shape)} and targets {tuple(target.shape)} differ")
    pos, neg = (target == 1).to(logits.dtype), (target == 0).to(logits.dtype)
    n_pos, n_neg = pos.sum((1, 2, 3), keepdim=True), neg.sum((1, 2, 3), keepdim=True)
    counted = (n_pos + n_neg).clamp_min(1)
    weight = pos * (n_neg / counted) + neg * (n_pos / counted)
    bce = F.binary_cross_entropy_with_logits(logits, pos, reduction="none")
    return ((weight * bce).sum((1, 2, 3)) / counted.flatten()).mean()


def _counterpart(name: str) -> str:
    return name[:-len("-plain")] if name.endswith("-plain") else name + "-plain"


def attach_edges_metrics(card: dict, out_dir: Path, val: str) -> dict:
    """Evaluate the shipped ONNX through the runtime (``imgadapt eval edges`` on ``VAL/images`` and
    ``VAL/gt``) next to OpenCV Canny and Sobel, with the plain / adaptive counterpart when it is in
    ``out_dir`` too (the ablation), and store it in the card; the counterpart's card gets the
    figures of the same run."""
    from ..onnx.ship import write_card
    from .records import eval_rows

    from .bsds import is_bsds

    val, out_dir = Path(val), Path(out_dir)
    other = _counterpart(card["name"])
    names = [card["name"]] + ([other] if (out_dir / (other + ".onnx")).is_file() else [])
    images, gt = (val / "images" / "val", val / "groundTruth" / "val") if is_bsds(val) else (val / "images", val / "gt")
    rows = eval_rows(out_dir, ["edges", "--images", str(images), "--gt", str(gt)], names[0],
                      ["--models", *names] if len(names) > 1 else [])
    card["metrics"] = _edges_metrics(card["name"], other, rows, val)
    write_card(out_dir / (card["name"] + ".json"), card)
    other_card = out_dir / (other + ".json")
    if len(names) > 1 and other_card.is_file():
        counterpart = json.loads(other_card.read_text())
        counterpart["metrics"] = _edges_metrics(other, card["name"], rows, val)
        write_card(other_card, counterpart)
    return card


def _edges_metrics(name: str, other: str, rows: list[dict], val: Path) -> dict:
    from .records import portable

    ours = next(r for r in rows if r["method"] == name)
    peers = [r for r in rows if r["source"] != "imgadapt"]
    best = max(peers, key=lambda r: r["ods"]) if peers else None
    metrics = {
        "protocol": "BSDS-style boundary F-measure: non-maximum suppression (Structured Edge toolbox), 99 thresholds, thinning, one-to-one matching within 0.0075 x "
                    "the image diagonal; ODS/OIS/AP; speed = input megapixels/s through the public API, median of "
                    "3 after warm-up, OpenCV Canny/Sobel peers in the same run (imgadapt eval edges)",
        "data": portable(str(val)), "images": list(ours["per_image"]), "measured": time.strftime("%Y-%m-%d"),
        **({"scenes": json.loads((val / MANIFEST).read_text())} if (val / MANIFEST).is_file() else {}),
        **{k: ours[k] for k in ("ods", "ois", "ap", "mp_s")}, "rows": rows,
        "summary": f"ODS {ours['ods']:.3f} OIS {ours['ois']:.3f} AP {ours['ap']:.3f} val"
                   + (f", best peer {best['method']} ODS {best['ods']:.3f}" if best else ""),
    }
    counterpart = next((r for r in rows if r["method"] == other), None)
    if counterpart is not None:
        metrics["summary"] += f"; {other} ODS {counterpart['ods']:.3f}"
        if not name.endswith("-plain"):  # the adaptive model's card reports its ablation
            metrics["ablation"] = {"counterpart": other, **{k: counterpart[k] for k in ("ods", "ois", "ap", "mp_s")}}
    return metrics


def train_edges(args, argv) -> dict:
    """``imgadapt train edges/...``: train on scenes from ``--data`` (and ``--textures``), ship, evaluate."""
    from ..onnx.ship import ship
    from .records import command, init_train, portable
    from .network import train_network

    model = nets.create(args.name)
    if args.init:  # fine-tuning: a further one-cycle schedule from a trained network of this architecture
        state = torch.load(args.init, weights_only=False)
        if state.get("arch") != args.name:
            raise InputValueError(f"--init: expected a checkpoint of {args.name}, "
                                  f"got one of {state.get('arch')!r} ({args.init})")
        model.load_state_dict(state["state_dict"])
    init_train = init_train(args.init)
    from .bsds import BSDS_TARGETS, bsds_batches, is_bsds, load_agreement

    bsds = len(args.data) == 1 and is_bsds(args.data[0])
    if bsds:  # real boundaries: BSDS500 train, annotators' agreement as labels
        samples = load_agreement(args.data[0], "train")
        batches = bsds_batches(samples, args.batch, args.patch, args.pad, threshold=args.bsds_threshold)
        data_record = {"targets": BSDS_TARGETS, "threshold": args.bsds_threshold, "images": len(samples),
                       "augmentation": "scale uniform in [0.5, 1.5], 8 flips/rotations, random crop of "
                                       "patch + 2 * pad pixels"}
    else:
        sources = load_sources(args.data) + (load_sources(args.textures) if args.textures else [])
        batches = edge_batches(sources, args.batch, args.patch, args.pad)
        data_record = {"scenes": "boundary_scene(gray) of patch + 2 * pad pixels per crop, drawn on the fly from "
                                 "the sources cut into tiles of twice that side", "targets": TARGETS}
    log.info("%s: %d parameters, receptive field %d px, %s", args.name, sum(p.numel() for p in model.parameters()),
             model.receptive_field, f"{len(samples)} BSDS images" if bsds else f"{len(sources)} fill images")
    from .network import run_options

    summary = train_network(model, None, steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr,
                            seed=args.seed, fixed_pafu=False, pad=args.pad, batch_fn=batches,
                            checkpoint=Path(args.runs) / args.name / "checkpoint.pt",
                            **{**run_options(args), "loss_fn": balanced_bce})
    for key in ("jitter", "exposure", "scales", "balance", "kernel_lr_scale"):
        summary.pop(key, None)
    card = {
        **nets.get(args.name).card(model),
        "description": nets.get(args.name).description,
        "input": {"channels": 1, "multiple": model.multiple, "colour": "gray (OpenCV BGR2GRAY of a colour image)",
                  "range": "0-1 float, 8-bit trained"},
        "receptive_field": model.receptive_field,
        "train": {"command": command(argv, summary["steps"]), "data": portable(args.data),
                  "textures": portable(args.textures) if args.textures else None, "seed": args.seed,
                  **data_record, "loss": LOSS, **summary,
                  **({"init": portable(args.init), "init_train": init_train} if args.init else {})},
    }
    rng = np.random.default_rng(args.seed)
    checks = [torch.from_numpy(rng.random((1, 1, 64, 96), dtype=np.float32)),
              torch.from_numpy(rng.random((1, 1, 37, 23), dtype=np.float32))]
    card = ship(model, card, Path(args.out), torch.zeros(1, 1, 32, 32), checks, {})
    if args.val:
        card = attach_edges_metrics(card, Path(args.out), args.val)
    return card
