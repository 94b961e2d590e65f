"""Gallery crops for the README: input, peers and imgadapt side by side where they differ most.

For each task, every method of the bench runs on the images; the crop shown is the window where the
best imgadapt model's error is furthest below the best peer's (sum of squared errors over the window;
edges: the boundary maps' disagreement with the ground truth), so the difference is visible.
Crops are magnified with nearest-neighbour sampling and labelled. Runtime only: no torch.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imgadapt import bayer
from imgadapt.bench import plot, sr_eval, suite

WINDOW, ZOOM, BORDER = 48, 4, 8


def _window_error(out: np.ndarray, truth: np.ndarray) -> np.ndarray:
    d = out.astype(np.float64) - truth.astype(np.float64)
    e = (d * d).sum(axis=2) if d.ndim == 3 else d * d
    return cv2.boxFilter(e, -1, (WINDOW, WINDOW), normalize=False, borderType=cv2.BORDER_CONSTANT)


def best_window(model_out, peer_out, truth) -> tuple[float, tuple[int, int]]:
    """``(gain, (y, x))``: the top-left corner of the window where the model's error is lowest against the peer's."""
    gain = _window_error(peer_out, truth) - _window_error(model_out, truth)
    h, w = gain.shape
    lo, hi_y, hi_x = BORDER + WINDOW // 2, h - BORDER - WINDOW // 2, w - BORDER - WINDOW // 2
    if hi_y <= lo or hi_x <= lo:
        return -np.inf, (0, 0)
    inner = gain[lo:hi_y, lo:hi_x]
    y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return float(inner[y, x]), (int(y) + lo - WINDOW // 2, int(x) + lo - WINDOW // 2)


def _panel(image: np.ndarray, corner: tuple[int, int], label: str) -> np.ndarray:
    y, x = corner
    crop = image[y:y + WINDOW, x:x + WINDOW]
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    crop = cv2.resize(crop, (WINDOW * ZOOM, WINDOW * ZOOM), interpolation=cv2.INTER_NEAREST)
    head = np.full((22, crop.shape[1], 3), 255, np.uint8)
    cv2.putText(head, label[:30], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (40, 40, 40), 1, cv2.LINE_AA)
    return np.vstack([head, crop])


def _strip(panels: list[np.ndarray]) -> np.ndarray:
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    out = [panels[0]]
    for p in panels[1:]:
        out += [gap, p]
    return np.hstack(out)


def _mosaic_view(mosaic: np.ndarray) -> np.ndarray:
    """A mosaic shown in colour: each site in its own colour channel."""
    return (mosaic[..., None] * bayer.channel_masks("RGGB", *mosaic.shape)).astype(np.uint8)


def _as_u8(prob: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(prob, 0, 1) * 255).astype(np.uint8) if prob.dtype != np.uint8 else prob


def gallery(task: str, images: str | Path, rows: list[dict], scale: int | None = None,
            gt: str | Path | None = None, peers: int = 2) -> np.ndarray | None:
    """A labelled strip of crops (input, the best imgadapt model, the ``peers`` best peers, ground truth)
    of the methods of ``rows`` (a bench run on these images, best first), or ``None`` when the rows have
    no imgadapt model or no peer."""
    models = [r for r in rows if r["source"] == "imgadapt"]
    others = [r for r in rows if r["source"] != "imgadapt"][:peers]
    if not models or not others:
        return None
    found, _ = suite.methods(task, scale, only=[models[0]["method"]] + [r["method"] for r in others])
    data = suite.load_data(task, images, gt)
    inputs = suite.inputs_of(task, data, scale)
    truths = {"demosaic": lambda: [img for _, img in data],
              "sr": lambda: [hr for _, hr, _ in sr_eval.sr_pairs(data, scale)],
              "edges": lambda: [np.max(np.stack(g), axis=0).astype(np.uint8) * 255 for _, _, g in data]}[task]()
    best = None
    for x, truth in zip(inputs, truths):
        outs = {name: suite.call_of(task, m)(x) for name, m in found.items()}
        if task == "edges":
            outs = {k: _as_u8(v) for k, v in outs.items()}
        gain, corner = best_window(outs[models[0]["method"]], outs[others[0]["method"]], truth)
        if best is None or gain > best[0]:
            best = (gain, corner, x, truth, outs)
    _, corner, x, truth, outs = best
    first = {"demosaic": lambda: _panel(_mosaic_view(x), corner, "input (RGGB mosaic)"),
             "sr": lambda: _panel(cv2.resize(x, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST),
                                  corner, f"input (x{scale} smaller)"),
             "edges": lambda: _panel(x, corner, "input")}[task]()
    panels = [first] + [_panel(outs[name], corner, name) for name in outs]
    panels.append(_panel(truth, corner, "ground truth"))
    return _strip(panels)


def write(task: str, images, rows: list[dict], path: str | Path, **kwargs) -> Path | None:
    strip = gallery(task, images, rows, **kwargs)
    return None if strip is None else plot.save(strip, path)
