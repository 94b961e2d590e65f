"""Demosaicking batches made on the training device: crops, flips, gains and mosaics without the CPU.

On a GPU the CPU-made batches of :func:`export.train.network.make_batch` limit a run to about 20 steps a
second (one core each); here the images live on the device as 8-bit tensors (with their downscaled
copies, made once on the CPU as :class:`export.train.data.ImageSet` makes them), and a batch is a few
tensor operations. Random choices come from the trainer's numpy generator, so runs are reproducible;
the batches follow the same recipe as ``make_batch`` but not the same random stream.
"""
from __future__ import annotations

import numpy as np
import torch

from .data import ImageSet, mosaic_rggb, quantize
from .network import reflect_pad


class DeviceImages:
    """Training images (float RGB in [0, 1], as :func:`export.train.data.load_folder` gives them) held on
    ``device`` at each of ``scales`` as ``(3, H, W)`` uint8 tensors (8-bit sources lose nothing)."""

    def __init__(self, images, scales, device, size: int):
        images = images if isinstance(images, ImageSet) else ImageSet(images)
        self.device, self.size = torch.device(device), size
        self.levels = []  # (scale, image index, tensor), every pair large enough for a crop
        for index, image in enumerate(images):
            for scale in scales:
                if scale != 1.0 and min(image.shape[:2]) * scale < size:
                    continue
                scaled = image if scale == 1.0 else images.at_scale(index, float(scale))
                if min(scaled.shape[:2]) < size:
                    continue
                pixels = np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8).transpose(2, 0, 1)
                self.levels.append((float(scale), index, torch.from_numpy(np.ascontiguousarray(pixels)).to(device)))
        if not self.levels:
            raise ValueError(f"no training image is at least {size} px on its shorter side")
        self.scales = sorted({s for s, _, _ in self.levels})
        self.by_image = {}
        for slot, (scale, index, _) in enumerate(self.levels):
            self.by_image.setdefault(index, {})[scale] = slot

    def crops(self, count: int, rng: np.random.Generator, jitter: float = 0.05) -> torch.Tensor:
        """``(count, 3, size, size)`` float crops in [0, 1]: a random image and scale, position, one of
        the 8 flips and rotations, and a per-channel gain in ``1 ± jitter`` (clipped to 1)."""
        size, picks = self.size, []
        images = sorted(self.by_image)
        for _ in range(count):
            slots = self.by_image[images[int(rng.integers(len(images)))]]
            scale = list(slots)[int(rng.integers(len(slots)))]
            _, _, tensor = self.levels[slots[scale]]
            h, w = tensor.shape[1:]
            y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
            picks.append(tensor[:, y:y + size, x:x + size])
        batch = torch.stack(picks).float() / 255
        turns = rng.integers(8, size=count)
        out = torch.empty_like(batch)
        for k in range(8):
            chosen = np.flatnonzero(turns == k)
            if len(chosen):
                sel = torch.from_numpy(chosen).to(batch.device)
                part = torch.rot90(batch[sel], k % 4, dims=(2, 3))
                out[sel] = part.flip(3) if k >= 4 else part
        gains = 1.0 + jitter * rng.uniform(-1, 1, (count, 3, 1, 1)).astype(np.float32)
        return (out * torch.from_numpy(gains).to(batch.device)).clamp(0, 1)


def device_demosaic_batches(images, batch: int, patch: int, pad: int, scales, device, jitter: float = 0.05):
    """A ``batch_fn`` for :func:`~export.train.network.train_network`: clean 8-bit RGB crops and their
    RGGB mosaics mirrored by ``pad``, made on ``device`` (``patch`` and ``pad`` even keep the Bayer
    phase)."""
    if patch % 2 or pad % 2:
        raise ValueError(f"patch and pad must be even to keep the Bayer phase, got {patch} and {pad}")
    pool = DeviceImages(images, scales, device, patch)

    def make(rng: np.random.Generator):
        rgb = quantize(pool.crops(batch, rng, jitter))
        mosaic = mosaic_rggb(rgb)
        return (reflect_pad(mosaic, pad) if pad else mosaic), rgb, pad
    return make
