"""Charts of ``imgadapt bench`` rows, drawn with OpenCV.

matplotlib is not a dependency of imgadapt (and not installed where the bench was built), while
OpenCV is part of the runtime, so the charts are plain OpenCV drawings: a quality-versus-speed
scatter (speed on a log axis) and the scaling curves (speed and peak memory against frame size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputValueError

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK, _GRID = (40, 40, 40), (225, 225, 225)
# BGR; imgadapt first, then the peers' packages in order of appearance
_COLOURS = [(40, 40, 220), (200, 120, 30), (40, 160, 40), (160, 60, 160), (0, 140, 230), (130, 130, 130),
            (150, 150, 0), (60, 60, 120)]
_QUALITY_LABEL = {"psnr_db": "PSNR (dB)", "ods": "ODS F-measure"}


@dataclass
class Series:
    """Points of one legend entry; ``labels`` name the points, ``lines`` joins them."""
    name: str
    points: list[tuple[float, float]]
    labels: list[str] = field(default_factory=list)
    lines: bool = False


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9) / 4))
    step *= next(m for m in (1, 2, 5, 10) if (hi - lo) / (step * m) <= 6)
    return [k * step for k in range(math.floor(lo / step), math.ceil(hi / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) >= 0.01 or v == 0 else f"{v:.0e}"


def panel(series: list[Series], xlabel: str, ylabel: str, title: str, log_x: bool = False,
          size: tuple[int, int] = (900, 560), y_zero: bool = False) -> np.ndarray:
    """One chart as a BGR uint8 image of ``size`` (width, height); ``y_zero`` starts the y axis at 0."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    pts = [p for s in series for p in s.points if p[1] is not None and p[0] is not None and (p[0] > 0 or not log_x)]
    if not pts:
        cv2.putText(img, f"{title}: nothing to plot", (20, h // 2), _FONT, 0.6, _INK, 1, cv2.LINE_AA)
        return img
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    fx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    x0, x1 = (10 ** math.floor(math.log10(min(xs))), 10 ** math.ceil(math.log10(max(xs)))) if log_x else (
        min(0.0, min(xs)), max(xs) * 1.05 or 1.0)
    pad = (max(ys) - min(ys)) * 0.08 or 0.5
    y0, y1 = (0.0 if y_zero else min(ys) - pad), max(ys) + pad
    left, right, bottom = 80, w - 30, h - 60
    legend, lx, line = [], left, 0  # legend entries left to right above the plot, wrapping
    for s in series:
        width = cv2.getTextSize(s.name[:40], _FONT, 0.42, 1)[0][0] + 30
        if lx + width > right and lx > left:
            lx, line = left, line + 1
        legend.append((lx, 52 + 18 * line))
        lx += width
    top = 70 + 18 * line

    def at(x: float, y: float) -> tuple[int, int]:
        u = (fx(x) - fx(x0)) / ((fx(x1) - fx(x0)) or 1)
        v = (y - y0) / ((y1 - y0) or 1)
        return int(left + u * (right - left)), int(bottom - v * (bottom - top))

    for t in _ticks(x0, x1, log_x):
        if x0 <= t <= x1:
            px = at(t, y0)[0]
            cv2.line(img, (px, top), (px, bottom), _GRID, 1)
            cv2.putText(img, _fmt(t), (px - 12, bottom + 18), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    for t in _ticks(y0, y1, False):
        if y0 <= t <= y1:
            py = at(x0, t)[1]
            cv2.line(img, (left, py), (right, py), _GRID, 1)
            cv2.putText(img, _fmt(round(t, 6)), (8, py + 4), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (right, bottom), _INK, 1)
    cv2.putText(img, title, (left, 26), _FONT, 0.6, _INK, 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, ((left + right) // 2 - 4 * len(xlabel), h - 20), _FONT, 0.5, _INK, 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (8, top - 8), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
    for i, s in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        points = [(p, at(*p)) for p in s.points if p[0] is not None and p[1] is not None and (p[0] > 0 or not log_x)]
        if s.lines and len(points) > 1:
            cv2.polylines(img, [np.array([q for _, q in points], np.int32)], False, colour, 2, cv2.LINE_AA)
        for j, (_, q) in enumerate(points):
            cv2.circle(img, q, 5, colour, -1, cv2.LINE_AA)
            if j < len(s.labels):
                cv2.putText(img, s.labels[j], (q[0] + 7, q[1] - 6), _FONT, 0.38, colour, 1, cv2.LINE_AA)
        lx, ly = legend[i]
        cv2.circle(img, (lx + 5, ly - 4), 5, colour, -1, cv2.LINE_AA)
        cv2.putText(img, s.name[:40], (lx + 14, ly), _FONT, 0.42, colour, 1, cv2.LINE_AA)
    return img


def quality_speed(rows: list[dict], title: str = "") -> np.ndarray:
    """Quality (PSNR, or ODS for edges) against MP/s, one colour per source, each point named."""
    key = "ods" if rows and "ods" in rows[0] else "psnr_db"
    by_source: dict[str, Series] = {}
    for r in sorted(rows, key=lambda r: r["source"] != "imgadapt"):
        s = by_source.setdefault(r["source"], Series(r["source"], []))
        s.points.append((r["mp_s"], r[key]))
        s.labels.append(r["method"])
    return panel(list(by_source.values()), "megapixels per second (log)", _QUALITY_LABEL[key],
                 title or "quality against speed", log_x=True)


def scaling_curves(rows: list[dict], title: str = "") -> np.ndarray:
    """Throughput and peak memory against frame size, one line per method and tiling, side by side."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        tile = "" if r.get("tile") is None else f" (tiles {r['tile']})"
        groups.setdefault(r["method"] + tile, []).append(r)

    def series(key):
        return [Series(name, [(r["megapixels"], r[key]) for r in sorted(g, key=lambda r: r["megapixels"])],
                       lines=True) for name, g in groups.items()]
    speed = panel(series("mp_s"), "frame megapixels", "MP/s", f"{title} throughput".strip(), size=(700, 480),
                  y_zero=True)
    memory = panel(series("peak_mb"), "frame megapixels", "peak MB", f"{title} peak memory".strip(),
                   size=(700, 480), y_zero=True)
    return np.hstack([speed, memory])


def save(image: np.ndarray, path: str | Path) -> Path:
    """Write a chart as PNG (or any format OpenCV writes from the suffix)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        raise InputValueError(f"plot: expected a .png (or .jpg, .tif, .webp) file name, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    return path
