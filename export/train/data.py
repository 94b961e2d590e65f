"""Training data: image folders, Bayer-phase-safe augmentation, mosaicking and RAW-like noise."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from imgadapt.ensemble import dihedral

IGNORED = -1.0  # an edge target that the loss leaves out (pixels next to a border, or marked by few annotators)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def image_paths(folders: str | Path | Sequence[str | Path]) -> list[Path]:
    """The image files of a folder (or of several, one after another), sorted by name; at least one
    in each folder."""
    paths = []
    for folder in [folders] if isinstance(folders, (str, Path)) else folders:
        found = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        paths += found
    return paths


def read_image(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    img = cv2.imread(str(path), flags)
    if img is None:
        raise ValueError(f"{path}: unreadable image")
    return img


class ImageSet(list):
    """Training images that keep each downscaled copy :func:`random_crops` makes, so a crop at a
    scale other than 1 costs a slice rather than a resize of the whole image."""

    def __init__(self, images=()):
        super().__init__(images)
        self._scaled: dict[tuple[int, float], np.ndarray] = {}

    def at_scale(self, index: int, scale: float) -> np.ndarray:
        key = (index, scale)
        if key not in self._scaled:
            self._scaled[key] = cv2.resize(self[index], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._scaled[key]


def load_folder(folder: str | Path | Sequence[str | Path], gray: bool = False) -> ImageSet:
    """All images of a folder (or of several) as float32 arrays in [0, 1]: ``HxWx3`` RGB, or ``HxW`` with ``gray``."""
    images = ImageSet()
    for path in image_paths(folder):
        img = read_image(path)
        scale = 65535.0 if img.dtype == np.uint16 else 255.0
        img = img.astype(np.float32) / scale
        if img.ndim == 3:
            img = img[:, :, :3]
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img[:, :, ::-1]
        elif not gray:
            img = np.repeat(img[:, :, None], 3, axis=2)
        images.append(np.ascontiguousarray(img))
    return images


def random_crops(images: list[np.ndarray], count: int, size: int, rng: np.random.Generator,
                 scales=(1.0, 0.7, 0.5, 0.35, 0.25), jitter: float = 0.05,
                 exposure=(1.0, 1.0)) -> torch.Tensor:
    """``count`` random crops ``(N, 3, size, size)`` at random scales, flips, rotations, small
    per-channel gain jitter and an exposure gain drawn from ``exposure`` (``size`` even keeps crops
    Bayer-aligned)."""
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        index = int(rng.integers(len(images)))
        img = images[index]
        s = float(rng.choice(scales))
        if s != 1.0 and min(img.shape[:2]) * s >= size:
            img = (images.at_scale(index, s) if isinstance(images, ImageSet) else
                   cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
        h, w = img.shape[:2]
        if h < size or w < size:
            img = cv2.resize(img, (max(w, size), max(h, size)), interpolation=cv2.INTER_CUBIC)
            h, w = img.shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = dihedral(img[y:y + size, x:x + size], int(rng.integers(8)))
        gains = 1.0 + jitter * rng.uniform(-1, 1, 3).astype(np.float32)
        if exposure != (1.0, 1.0):  # drawn only when asked, so the default random stream is unchanged
            gains = gains * np.float32(rng.uniform(*exposure))
        out[i] = np.clip(crop * gains, 0.0, 1.0)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def quantize(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    levels = float(2 ** bits - 1)
    return torch.round(x * levels) / levels


def mosaic_rggb(rgb: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` RGB to ``(N, 1, H, W)`` RGGB mosaic (H, W even)."""
    out = torch.empty_like(rgb[:, :1])
    out[:, 0, 0::2, 0::2] = rgb[:, 0, 0::2, 0::2]
    out[:, 0, 0::2, 1::2] = rgb[:, 1, 0::2, 1::2]
    out[:, 0, 1::2, 0::2] = rgb[:, 1, 1::2, 0::2]
    out[:, 0, 1::2, 1::2] = rgb[:, 2, 1::2, 1::2]
    return out


def add_raw_noise(mosaic: torch.Tensor, a: torch.Tensor, b: torch.Tensor, generator=None) -> torch.Tensor:
    """Heteroscedastic sensor noise: variance ``a * x + b`` per pixel (``a``, ``b``: ``(N,)``)."""
    var = a.view(-1, 1, 1, 1) * mosaic.clamp(min=0) + b.view(-1, 1, 1, 1)
    noise = torch.randn(mosaic.shape, generator=generator, dtype=mosaic.dtype)
    return mosaic + noise * var.sqrt()


def sample_noise_levels(n: int, rng: np.random.Generator, a_range=(1e-4, 2e-2), b_range=(1e-6, 1e-3)):
    """Log-uniform shot (``a``) and read (``b``) noise parameters."""
    def loguniform(lo, hi):
        return torch.from_numpy(np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(np.float32))
    return loguniform(*a_range), loguniform(*b_range)

