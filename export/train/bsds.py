"""Boundary training on BSDS500: the annotators' agreement as labels, augmented crops.

Labels follow HED and RCF: a pixel's agreement is the share of annotators who marked it; pixels at or
above ``threshold`` are boundaries, pixels marked by fewer are left out of the loss (an annotator
saw an edge there, most did not), unmarked pixels are negatives. Augmentation: a scale drawn
uniformly from ``scales`` (image by area or linear interpolation, agreement linearly, so a one-pixel
line keeps about half its agreement at half size), one of the 8 flips and 90-degree rotations, and a
random crop; crops are gray in [0, 1], mirrored outwards where the scaled image is smaller than the
crop.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .scenes import load_bsds
from imgadapt.ensemble import dihedral
from .data import IGNORED

BSDS_TARGETS = ("BSDS500 annotators' agreement (share of annotators marking the pixel): at or above the threshold "
                "a boundary, above zero and below it ignored, zero a negative")


def is_bsds(root: str | Path) -> bool:
    """Whether ``root`` is laid out as BSDS500 (``images/train`` and ``groundTruth/train``)."""
    root = Path(root)
    return (root / "images" / "train").is_dir() and (root / "groundTruth" / "train").is_dir()


def load_agreement(root: str | Path, split: str = "train") -> list[tuple[np.ndarray, np.ndarray]]:
    """``(gray float32 image in [0, 1], float32 agreement in [0, 1])`` for every image of a split."""
    samples = []
    for _, bgr, maps in load_bsds(root, split):
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / np.float32(255)
        samples.append((gray, np.mean(maps, axis=0, dtype=np.float32)))
    return samples


def agreement_targets(agreement: np.ndarray, threshold: float) -> np.ndarray:
    """Agreement to targets: 1 at or above ``threshold``, :data:`IGNORED` between, 0 where unmarked."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: expected a share in (0, 1], got {threshold}")
    return np.where(agreement >= threshold, 1.0, np.where(agreement > 0, IGNORED, 0.0)).astype(np.float32)


def _scaled(image: np.ndarray, agreement: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    if scale == 1.0:
        return image, agreement
    h, w = image.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=shrink), cv2.resize(agreement, size, interpolation=cv2.INTER_LINEAR)


def bsds_batches(samples, batch: int, size: int, pad: int, scales=(0.5, 1.5), threshold: float = 0.3):
    """A ``batch_fn`` for :func:`~export.train.network.train_network`: ``batch`` augmented gray crops of
    ``size + 2 * pad`` pixels, the targets of their central ``size`` square, and the margin ``pad``."""
    if size < 8 or pad < 0:
        raise ValueError(f"BSDS crops: expected size >= 8 and pad >= 0, got size={size}, pad={pad}")
    lo, hi = scales
    if not 0 < lo <= hi:
        raise ValueError(f"scales: expected 0 < low <= high, got {scales}")
    side = size + 2 * pad

    def make(rng: np.random.Generator):
        images = np.empty((batch, 1, side, side), np.float32)
        targets = np.empty((batch, 1, size, size), np.float32)
        for i in range(batch):
            image, agreement = samples[int(rng.integers(len(samples)))]
            image, agreement = _scaled(image, agreement, float(rng.uniform(lo, hi)))
            k = int(rng.integers(8))
            image, agreement = dihedral(image, k), dihedral(agreement, k)
            h, w = image.shape
            grow_y, grow_x = max(0, side - h), max(0, side - w)
            if grow_y or grow_x:
                border = (grow_y // 2, grow_y - grow_y // 2, grow_x // 2, grow_x - grow_x // 2)
                image = cv2.copyMakeBorder(image, *border, cv2.BORDER_REFLECT_101)
                agreement = cv2.copyMakeBorder(agreement, *border, cv2.BORDER_REFLECT_101)
                h, w = image.shape
            y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
            images[i, 0] = image[y:y + side, x:x + side]
            targets[i, 0] = agreement_targets(agreement[y + pad:y + pad + size, x + pad:x + pad + size], threshold)
        return torch.from_numpy(images), torch.from_numpy(targets), pad
    return make
