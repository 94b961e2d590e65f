"""Boundary-detection data: synthetic scenes with known region borders, and the BSDS500 layout.

A synthetic scene is a warped Voronoi partition (seed points, distances measured in coordinates
displaced by smooth random fields, so borders are smooth random curves) whose regions are each
filled with a different crop of a photo or a texture, with its own contrast, brightness, tint,
shading and noise. Texture and object edges inside the regions are distractors; the ground truth is
only the set of region borders, one pixel wide.

    python -m export.boundary_scenes --src DIR [--textures DIR] -o OUT --count N --size S --seed K

writes ``OUT/images/scene_00000.png`` and ``OUT/gt/scene_00000.png`` (0 / 255), the layout that
``imgadapt eval edges --images OUT/images --gt OUT/gt`` reads. Scene ``i`` of seed ``K`` is the same
whatever ``--count`` is.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from imgadapt.bench.boundary_io import read_bsds_mat
from imgadapt.bench.boundary_metrics import thin

from .data import image_paths, read_image

MANIFEST = "scenes.json"  # how a scenes folder was made, read into the cards of models measured on it


def load_sources(folder: str | Path) -> list[np.ndarray]:
    """The 8-bit images of a folder as ``HxWx3`` BGR uint8 (gray ones replicated), sorted by name."""
    return [read_image(path, cv2.IMREAD_COLOR) for path in image_paths(folder)]


def _smooth_field(shape: tuple[int, int], cells: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    coarse = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(amplitude)


def warped_labels(shape: tuple[int, int], regions: int, rng: np.random.Generator) -> np.ndarray:
    """An ``int32`` label map of ``regions`` warped Voronoi cells with smooth random borders."""
    h, w = shape
    size = float(max(h, w))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    wy = y + _smooth_field(shape, 3, 0.10 * size, rng) + _smooth_field(shape, 9, 0.025 * size, rng)
    wx = x + _smooth_field(shape, 3, 0.10 * size, rng) + _smooth_field(shape, 9, 0.025 * size, rng)
    seeds = rng.uniform((0, 0), (h, w), (regions, 2)).astype(np.float32)
    dist = np.stack([(wy - sy) ** 2 + (wx - sx) ** 2 for sy, sx in seeds])
    return np.argmin(dist, axis=0).astype(np.int32)


def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """One-pixel-wide borders of a label map: pixels whose right or lower neighbour has another
    label, thinned to 8-connected curves (bool ``HxW``)."""
    edge = np.zeros(labels.shape, bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return thin(edge)


def _fill(sources: Sequence[np.ndarray], shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A randomly scaled, flipped, rotated crop of one source with random photometric changes (float32)."""
    h, w = shape
    src = sources[rng.integers(len(sources))]
    scale = max(rng.uniform(0.5, 1.5), (max(h, w) + 2) / min(src.shape[:2]))
    src = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    src = np.rot90(src, rng.integers(4))
    src = src[:, ::-1] if rng.random() < 0.5 else src
    top, left = rng.integers(src.shape[0] - h + 1), rng.integers(src.shape[1] - w + 1)
    crop = src[top:top + h, left:left + w].astype(np.float32)
    mean = crop.mean(axis=(0, 1))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    shading = rng.uniform(-30, 30) * (y / h - 0.5) + rng.uniform(-30, 30) * (x / w - 0.5)
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    out = ((crop - mean) * rng.uniform(0.4, 1.3) + mean * tint + rng.uniform(-50, 50)) + shading[..., None]
    return out + rng.standard_normal(out.shape).astype(np.float32) * rng.uniform(0, 6)


def boundary_scene(sources: Sequence[np.ndarray], size: int | tuple[int, int], rng: np.random.Generator,
                   regions: tuple[int, int] = (3, 9), gray: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic scene and its region borders.

    Args:
        sources: ``HxWx3`` BGR uint8 photos or textures to fill regions with.
        size: side (square) or ``(height, width)``.
        rng: the only source of randomness.
        regions: smallest and largest number of regions (inclusive).
        gray: return a gray ``HxW`` image instead of BGR.

    Returns:
        ``(image, boundary)``: uint8 ``HxWx3`` BGR (or ``HxW``) and a bool ``HxW`` border map.
    """
    shape = (size, size) if np.ndim(size) == 0 else (int(size[0]), int(size[1]))
    if min(shape) < 8:
        raise ValueError(f"size: expected at least 8x8 pixels, got {shape[0]}x{shape[1]}")
    if not sources:
        raise ValueError("sources: expected at least one image to fill regions with")
    labels = warped_labels(shape, int(rng.integers(regions[0], regions[1] + 1)), rng)
    ids = np.unique(labels)
    # Soft masks: a slightly blurred border, as a lens and a sensor would render it.
    sigma = rng.uniform(0.4, 1.0)
    image = np.zeros(shape + (3,), np.float32)
    for k in ids:
        mask = cv2.GaussianBlur((labels == k).astype(np.float32), (0, 0), sigma)
        image += mask[..., None] * _fill(sources, shape, rng)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if gray:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image, label_boundaries(labels)


def write_scenes(sources: Sequence[np.ndarray], out: str | Path, count: int, size: int, seed: int,
                 gray: bool = False) -> list[str]:
    """Write ``count`` scenes as ``out/images/NAME.png`` and ``out/gt/NAME.png`` (0 / 255); return the names."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        image, boundary = boundary_scene(sources, size, np.random.default_rng([seed, i]), gray=gray)
        name = f"scene_{i:05d}.png"
        if not (cv2.imwrite(str(out / "images" / name), image)
                and cv2.imwrite(str(out / "gt" / name), boundary.astype(np.uint8) * 255)):
            raise OSError(f"cannot write {name} in {out}")
        names.append(name)
    return names


def load_bsds(root: str | Path, split: str = "val") -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    """``(name, BGR uint8 image, annotators' bool boundary maps)`` of a BSDS500 split laid out as
    ``root/images/SPLIT/NAME.jpg`` and ``root/groundTruth/SPLIT/NAME.mat`` (needs scipy)."""
    root = Path(root)
    paths = sorted((root / "images" / split).glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no images/{split}/*.jpg under {root}")
    data = []
    for path in paths:
        image = read_image(path, cv2.IMREAD_COLOR)
        maps = read_bsds_mat(root / "groundTruth" / split / (path.stem + ".mat"))
        if any(m.shape != image.shape[:2] for m in maps):
            raise ValueError(f"{path.stem}: ground truth of shape {maps[0].shape}, expected {image.shape[:2]}")
        data.append((path.stem, image, maps))
    return data


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m export.boundary_scenes", description=__doc__.split("\n\n")[0])
    p.add_argument("--src", required=True, help="folder of photos to fill regions with")
    p.add_argument("--textures", default=None, help="folder of textures added to the fills")
    p.add_argument("-o", "--output", required=True, help="output folder (images/ and gt/ are created)")
    p.add_argument("--count", type=int, default=100, help="number of scenes (default 100)")
    p.add_argument("--size", type=int, default=320, help="side of the square scenes in pixels (default 320)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--gray", action="store_true", help="write gray images")
    args = p.parse_args(argv)
    sources = load_sources(args.src) + (load_sources(args.textures) if args.textures else [])
    names = write_scenes(sources, args.output, args.count, args.size, args.seed, gray=args.gray)
    from .records import portable  # paths as cards record them (the checkout's, else their last parts)

    words = [portable(a) if Path(a).exists() else a for a in argv]
    manifest = {"command": "python -m export.boundary_scenes " + " ".join(words),
                "count": len(names), "size": args.size, "seed": args.seed}
    (Path(args.output) / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(names)} scenes of {args.size}x{args.size} written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
