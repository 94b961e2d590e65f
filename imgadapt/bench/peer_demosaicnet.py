"""demosaicnet (Gharbi, Chaurasia, Paris & Durand 2016) as a demosaicking peer.

The released Bayer network and weights of the ``demosaicnet`` package, run with torch on the CPU.
It reads GRBG mosaics and loses a border to its unpadded convolutions: the mosaic is mirrored
outwards (which keeps the colour phase) so that it reads GRBG and the lost border falls outside
the image, and the output is cropped back into alignment with the input.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import cv2
import numpy as np

from ..bayer import rggb_offset

# More than the border the network loses (about 32 px); even, so the phase set below holds.
_MARGIN = 40
_NETWORK = []


def _import_network_module():
    """``demosaicnet.modules``; its 0.0.14 release locates its weights with ``pkg_resources``, which
    recent setuptools no longer ship: a stand-in answers that one call during the import."""
    from .peer_base import import_peer

    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return import_peer("demosaicnet.modules", "demosaicnet")
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, name: str) -> str:
        spec = importlib.util.find_spec(package.split(".")[0])
        return str(Path(spec.origin).parent / name)

    shim.resource_filename = resource_filename
    sys.modules["pkg_resources"] = shim
    try:
        return import_peer("demosaicnet.modules", "demosaicnet")
    finally:
        sys.modules.pop("pkg_resources", None)


def _network():
    if not _NETWORK:
        from .peer_base import import_peer

        torch = import_peer("torch", "torch")
        modules = _import_network_module()
        net = modules.BayerDemosaick(pretrained=False)
        weights = Path(importlib.util.find_spec("demosaicnet").origin).parent / "data" / "bayer.pth"
        with open(weights, "rb") as f:
            net.load_state_dict(torch.load(f, map_location="cpu"))
        _NETWORK.append((torch, net.eval()))
    return _NETWORK[0]


def demosaicnet(mosaic_hw: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Gharbi et al. 2016 (released Bayer weights); uint8 or uint16 in, same dtype BGR out."""
    from .peer_base import check_mosaic, to_dtype

    mosaic, pattern = check_mosaic(mosaic_hw, pattern)
    full = float(np.iinfo(mosaic.dtype).max)
    ry, rx = rggb_offset(pattern)
    top, left = _MARGIN + ry, _MARGIN + (1 - rx)  # R lands at (even row, odd column): GRBG
    padded = cv2.copyMakeBorder(mosaic.astype(np.float32) / full, top, _MARGIN, left, _MARGIN,
                                cv2.BORDER_REFLECT_101)
    h, w = padded.shape
    masked = np.zeros((1, 3, h, w), np.float32)
    masked[0, 0, 0::2, 1::2] = padded[0::2, 1::2]  # R
    masked[0, 1, 0::2, 0::2] = padded[0::2, 0::2]  # G
    masked[0, 1, 1::2, 1::2] = padded[1::2, 1::2]  # G
    masked[0, 2, 1::2, 0::2] = padded[1::2, 0::2]  # B
    torch, net = _network()
    with torch.inference_mode():
        rgb = net(torch.from_numpy(masked))[0].numpy()
    border_y, border_x = (h - rgb.shape[1]) // 2, (w - rgb.shape[2]) // 2
    y0, x0 = top - border_y, left - border_x
    out = rgb[::-1, y0:y0 + mosaic.shape[0], x0:x0 + mosaic.shape[1]].transpose(1, 2, 0)
    return to_dtype(out * full, mosaic.dtype)
