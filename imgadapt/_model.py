"""A loaded model: its card, a cached onnxruntime session, tiling, and the task's pre/post-processing."""
from __future__ import annotations

import cv2
import numpy as np

from . import _bayer, _nms, _session
from ._checks import check_image, from_float, to_float
from ._errors import InputDtypeError, InputValueError, UnknownNameError
from ._registry import Registry, public_card
from ._tiling import iter_tiles

DEFAULT_TILE = 1024
_registry = Registry()


def registry() -> Registry:
    return _registry


class Model:
    """A reusable, callable model. Create it with :func:`imgadapt.load`."""

    task = ""
    min_multiple = 1

    def __init__(self, card: dict, providers=None, threads: int | None = None, tile: int | None = DEFAULT_TILE,
                 strict: bool = False, registry: Registry | None = None):
        if tile is not None and (not isinstance(tile, int) or isinstance(tile, bool) or tile < 0):
            raise InputValueError(f"tile: expected None or an integer >= 0, got {tile!r}")
        reg = registry or _registry
        self.card = card
        self.name = card["name"]
        self.tile = tile
        self.providers = _session.choose_providers(providers, strict=strict)
        self.threads = threads
        self.session = _session.get_session(str(reg.onnx_path(card)), lambda: reg.verified_bytes(card),
                                            self.providers, threads,
                                            card.get("runtime", {}).get("graph_optimization", "extended"))
        self._input = self.session.get_inputs()[0].name
        io = card.get("input", {})
        self.in_channels = int(io.get("channels", 3))
        self.multiple = max(int(io.get("multiple", 1)), self.min_multiple)
        self.scale = int(card.get("scale", 1))
        self.halo = int(card.get("receptive_field", 1)) // 2 + 1

    def __repr__(self) -> str:
        return f"<imgadapt.Model {self.name} on {self.session.get_providers()[0]}>"

    @property
    def info(self) -> dict:
        return public_card(self.card)

    def run(self, x: np.ndarray, *, finish=None, crop=None, to_input=None) -> np.ndarray:
        """Run the network on a ``(C, H, W)`` array, tiled; returns ``(C_out, H*s, W*s)`` float32.

        The image is first extended by mirroring (without repeating the edge, which keeps a Bayer
        phase) by the model's halo, so border pixels see image-like context instead of zeros.

        For bounded memory on large frames, ``x`` may keep its own dtype with ``to_input`` mapping
        each tile to the network's float32, and ``finish`` maps each finished ``(C_out, h, w)``
        float32 piece to the caller's ``(h, w, ...)`` result, written into one output array of
        ``finish``'s dtype: no frame-sized float copy is made. ``crop = (top, left, height,
        width)`` (input pixels) limits the output to that window.
        """
        convert = to_input or (lambda a: a.astype(np.float32, copy=False))

        def once(batch):
            return self.session.run(None, {self._input: convert(batch)})[0]
        pad = -(-self.halo // self.multiple) * self.multiple
        c, h, w = x.shape
        border = cv2.BORDER_REFLECT_101 if min(h, w) > 1 else cv2.BORDER_REPLICATE
        planes = [cv2.copyMakeBorder(np.ascontiguousarray(p), pad, pad, pad, pad, border) for p in x]
        padded = planes[0][None] if c == 1 else np.stack(planes)
        del planes
        s = self.scale
        top, left, ch, cw = crop if crop is not None else (0, 0, h, w)
        oy0, ox0 = (pad + top) * s, (pad + left) * s
        oy1, ox1 = oy0 + ch * s, ox0 + cw * s
        out = None
        for y0, y1, x0, x1, result in iter_tiles(once, padded, tile=self.tile, halo=self.halo, scale=s,
                                                 multiple=self.multiple):
            ya, yb, xa, xb = max(y0 * s, oy0), min(y1 * s, oy1), max(x0 * s, ox0), min(x1 * s, ox1)
            if ya >= yb or xa >= xb:
                continue
            piece = result[:, ya - y0 * s:yb - y0 * s, xa - x0 * s:xb - x0 * s]
            done = piece if finish is None else finish(piece)
            lead = (slice(None),) if finish is None else ()  # channels first without finish, last with it
            if out is None:
                size = (oy1 - oy0, ox1 - ox0)
                out = np.empty(done.shape[:1] + size if lead else size + done.shape[2:], done.dtype)
            out[lead + (slice(ya - oy0, yb - oy0), slice(xa - ox0, xb - ox0))] = done
        return out


class DemosaicModel(Model):
    task = "demosaic"
    min_multiple = 2  # pads and tile origins must keep the Bayer phase

    def __call__(self, mosaic: np.ndarray, pattern: str = "RGGB", white_level: float | None = None) -> np.ndarray:
        """Demosaic an ``HxW`` Bayer mosaic into an ``HxWx3`` BGR image of the same dtype.

        Args:
            mosaic: ``HxW`` uint8, uint16 or float (0-1) mosaic, at least 2x2.
            pattern: the sensor's top-left 2x2: ``RGGB``, ``BGGR``, ``GRBG`` or ``GBRG``.
            white_level: for integer data whose full scale is below the dtype's (for example 4095
                for 12-bit data in uint16); the output uses the same scale.
        """
        pattern = _bayer.check_pattern(pattern)
        mosaic = check_image(mosaic, name="mosaic", channels=(1,), min_size=2)
        to_float(mosaic[:1, :1], white_level)  # checks white_level before any work
        padded, (top, left) = _bayer.align_to_rggb(mosaic, pattern, multiple=self.multiple)

        def finish(rgb):
            bgr = cv2.merge([rgb[2], rgb[1], rgb[0]])
            if mosaic.dtype.kind == "f":
                np.clip(bgr, 0.0, 1.0, out=bgr)
            return from_float(bgr, mosaic.dtype, white_level)
        # the mosaic stays in its dtype; tiles go to float32 and back one at a time
        return self.run(padded[None], finish=finish, crop=(top, left) + mosaic.shape,
                        to_input=lambda t: to_float(t, white_level))


def _check_rgb_like(image: np.ndarray, model_channels: int):
    """Image to model input ``(C, H, W)`` float32 (RGB order) and a function restoring the layout."""
    image = check_image(image, channels=(1, 3), min_size=1)
    x = to_float(image)
    if image.ndim == 2:
        planes = np.repeat(x[None], model_channels, axis=0) if model_channels == 3 else x[None]
        return planes, lambda y: y.mean(axis=0) if y.shape[0] == 3 else y[0]
    if model_channels == 1:
        gray = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)
        return gray[None], lambda y: np.repeat(y[0][..., None], 3, axis=2)
    return x[:, :, ::-1].transpose(2, 0, 1), lambda y: y[::-1].transpose(1, 2, 0)


class UpscaleModel(Model):
    task = "sr"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Upscale a gray or BGR image by the model's scale; same dtype and channels.

        A luma model (one input channel) upscales the Y of a BGR image (BT.601, OpenCV's
        ``YCrCb``); the chroma planes are upscaled by bicubic interpolation, to which the eye is
        far less sensitive.
        """
        if self.in_channels == 1 and getattr(image, "ndim", 0) == 3:
            image = check_image(image, channels=(1, 3), min_size=1)
            ycc = cv2.cvtColor(np.ascontiguousarray(to_float(image)), cv2.COLOR_BGR2YCrCb)
            h, w = ycc.shape[:2]
            up = cv2.resize(ycc, (w * self.scale, h * self.scale), interpolation=cv2.INTER_CUBIC)
            up[..., 0] = np.clip(self.run(ycc[None, :, :, 0])[0], 0.0, 1.0)
            out = np.clip(cv2.cvtColor(up, cv2.COLOR_YCrCb2BGR), 0.0, 1.0)
            return from_float(out, image.dtype)
        x, restore = _check_rgb_like(image, self.in_channels)
        out = np.clip(restore(self.run(x)), 0.0, 1.0)
        return from_float(np.ascontiguousarray(out), image.dtype)


class EdgeModel(Model):
    task = "edges"

    def __call__(self, image: np.ndarray, thin: bool = False, threshold: float = 0.5) -> np.ndarray:
        """Boundary probability of a gray or BGR image: float32 ``HxW`` in [0, 1]; with ``thin``, uint8
        ``HxW`` thin edges (255, else 0, as ``cv2.Canny`` gives): the pixels of probability at least
        ``threshold`` that are maxima across the local edge orientation (:mod:`imgadapt._nms`)."""
        if not isinstance(thin, (bool, np.bool_)):
            raise InputDtypeError(f"thin: expected a bool, got {type(thin).__name__}")
        threshold = _nms.check_threshold(threshold)
        x, _ = _check_rgb_like(image, self.in_channels)
        prob = np.clip(self.run(x)[0], 0.0, 1.0).astype(np.float32, copy=False)
        return _nms.thin_edges(prob, threshold) if thin else prob


_CLASSES = {cls.task: cls for cls in (DemosaicModel, UpscaleModel, EdgeModel)}


def load(name: str | None = None, *, task: str | None = None, providers=None, threads: int | None = None,
         tile: int | None = DEFAULT_TILE, strict: bool = False, registry: Registry | None = None) -> Model:
    """Load a model by name, verified against its card's checksum; its session is created once and reused.

    Args:
        name: ``task/name`` as listed by :func:`list_models`; ``None`` with ``task`` picks the default.
        task: restrict the lookup to ``demosaic``, ``sr`` or ``edges``.
        providers: ``None`` (CUDA, then CPU, whichever onnxruntime offers) or a list such as ``["cpu"]``.
        threads: intra-op threads of onnxruntime (``None``: onnxruntime's default).
        tile: core tile size in pixels (``0`` or ``None``: whole image at once).
        strict: fail with :class:`ProviderError` instead of falling back to another provider.
    """
    reg = registry or _registry
    card = reg.resolve(name, task)
    cls = _CLASSES.get(card["task"])
    if cls is None:
        raise UnknownNameError(f"model {card['name']!r} has unknown task {card['task']!r}")
    return cls(card, providers=providers, threads=threads, tile=tile, strict=strict, registry=reg)


def default_upscaler(scale: int) -> str:
    """The default super-resolution model for ``scale``; :class:`UnknownNameError` names the scales offered."""
    reg = registry()
    offered = sorted({int(reg.cards[n].get("scale", 0)) for n in reg.list("sr")})
    if scale not in offered:
        raise UnknownNameError(f"scale: expected one of {offered or 'none installed'}, got {scale}")
    return reg.default("sr", where=lambda card: int(card.get("scale", 0)) == scale)["name"]


def check_model_arg(model, task: str) -> Model:
    """Accept a loaded :class:`Model` or a name (``None`` = the task's default)."""
    if isinstance(model, Model):
        if model.task != task:
            raise UnknownNameError(f"model {model.name!r} is a {model.task} model, expected a {task} model")
        return model
    if model is not None and not isinstance(model, str):
        raise InputDtypeError(f"model: expected a name, None or an imgadapt.Model, got {type(model).__name__}")
    return _loaded(model, task)


_loaded_models: dict = {}


def _loaded(name, task):
    key = (name, task)
    if key not in _loaded_models:
        _loaded_models[key] = load(name, task=task)
    return _loaded_models[key]
