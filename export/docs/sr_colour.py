"""Why the upscalers work on luma: how much RGB quality chroma could still add.

``imgadapt.upscale`` runs the model on the luma (BT.601 Y) and interpolates the two chroma planes by
bicubic. For every image this compares, in RGB PSNR (``scale``-px border), the upscaled image with
(a) the same luma and the chroma planes upscaled by the luma model too (what a colour path would
give at three times the cost) and (b) the same luma with the true high-resolution chroma, the most
that any colour model with this luma could gain from chroma. Bicubic on all three channels is the
baseline. Runtime only: no torch.

    python -m export.docs.sr_colour --val DIR/val --scale 2 --model sr/pafu-espcn-plain-x2
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

import imgadapt
from imgadapt.bench.evaluate import load_images
from imgadapt.bench.metrics import mean_psnr, rgb_psnr, y_psnr
from imgadapt.bench.sr_eval import sr_pairs


def _ycrcb(bgr8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr8.astype(np.float32) / 255, cv2.COLOR_BGR2YCrCb)


def _bgr8(ycc: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR) * 255), 0, 255).astype(np.uint8)


def with_chroma_of(image: np.ndarray, chroma_source: np.ndarray) -> np.ndarray:
    """``image``'s luma (YCrCb, as the runtime converts) with ``chroma_source``'s Cr and Cb, 8-bit BGR."""
    ycc = _ycrcb(image)
    ycc[..., 1:] = _ycrcb(chroma_source)[..., 1:]
    return _bgr8(ycc)


def model_on_every_plane(lr: np.ndarray, scale: int, model: str) -> np.ndarray:
    """The luma model run on Y, Cr and Cb alike (float YCrCb planes, each as a gray image), 8-bit BGR.
    Y is upscaled again rather than taken from the 8-bit output so that its luma stays the model's."""
    ycc = _ycrcb(lr)
    return _bgr8(np.stack([imgadapt.upscale(np.ascontiguousarray(ycc[..., c]), scale, model=model)
                           for c in range(3)], 2))


def chroma_headroom(images, scale: int, model: str) -> dict:
    """Mean RGB and Y PSNR over ``images`` of bicubic, the model with bicubic chroma, the model on
    every plane, and the model with the true chroma."""
    rows = {k: ([], []) for k in ("bicubic", "model, bicubic chroma", "model on Y, Cr and Cb", "model, true chroma")}
    for _, hr, lr in sr_pairs(images, scale):
        h, w = hr.shape[:2]
        bicubic = cv2.resize(lr, (w, h), interpolation=cv2.INTER_CUBIC)
        out = imgadapt.upscale(lr, scale, model=model)
        for key, img in (("bicubic", bicubic), ("model, bicubic chroma", out),
                         ("model on Y, Cr and Cb", model_on_every_plane(lr, scale, model)),
                         ("model, true chroma", with_chroma_of(out, hr))):
            rows[key][0].append(rgb_psnr(img, hr, crop=scale))
            rows[key][1].append(y_psnr(img, hr, crop=scale))
    return {"model": model, "scale": scale, "images": len(images),
            **{k: {"rgb_psnr_db": round(mean_psnr(r), 3), "y_psnr_db": round(mean_psnr(y), 3)}
               for k, (r, y) in rows.items()}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--val", required=True, help="folder of high-resolution images")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--model", required=True, help="a luma super-resolution model of this scale")
    args = p.parse_args(argv)
    print(json.dumps(chroma_headroom(load_images(args.val), args.scale, args.model), indent=1))


if __name__ == "__main__":
    main()
