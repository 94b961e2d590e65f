"""A loaded model: its card, a cached onnxruntime session, tiling, and the task's pre/post-processing."""
from __future__ import annotations

import cv2
import numpy as np

from . import _bayer, _nms, _session
from ._checks import (check_bool_option, check_image, check_int_option, check_white_level, from_float,
                      to_float)
from ._errors import InputDtypeError, UnknownNameError
from ._registry import Registry, public_card
from ._tiling import REFLECT_101, REPLICATE, Padded, border_index, iter_tiles, take_window

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
        tile = check_int_option(tile, "tile", 0)
        threads = check_int_option(threads, "threads", 1)
        strict = check_bool_option(strict, "strict")
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

    def _stream(self, image: np.ndarray, to_input, finish, *, align: tuple[int, int, int, int] = (0, 0, 0, 0)
               ) -> np.ndarray:
        """Run the network over ``image`` tile by tile; returns the finished output, ``scale`` times
        ``image``'s height and width.

        ``image`` (``HxW`` or ``HxWxC``) stays in its own dtype and layout and is never copied whole:
        it is extended by mirroring (without repeating the edge, which keeps a Bayer phase) by
        ``align = (top, bottom, left, right)`` and then by the model's halo, so border pixels see
        image-like context instead of zeros, and each tile's window is read from it on its own.
        ``to_input`` maps a window to the network's ``(1, C, h, w)`` float32 input; ``finish(piece,
        (y0, y1, x0, x1))`` maps the network's ``(C_out, h*s, w*s)`` float32 output for the image
        rows ``y0:y1`` and columns ``x0:x1`` to the caller's ``(h*s, w*s, ...)`` result, which is
        written into one output array of ``finish``'s dtype. Memory: input, output and one tile's
        working set.
        """
        h, w = image.shape[:2]
        top, bottom, left, right = align
        pad = -(-self.halo // self.multiple) * self.multiple
        mode = REFLECT_101 if min(h + top + bottom, w + left + right) > 1 else REPLICATE
        source = Padded(image, border_index(h, [(top, bottom, REFLECT_101), (pad, pad, mode)]),
                        border_index(w, [(left, right, REFLECT_101), (pad, pad, mode)]))

        def net(window):
            x = np.ascontiguousarray(to_input(window), dtype=np.float32)
            return self.session.run(None, {self._input: x})[0][0]
        s = self.scale
        oy, ox = pad + top, pad + left  # the image's origin in the extended image
        out = None
        for y0, y1, x0, x1, result in iter_tiles(net, source, tile=self.tile, halo=self.halo, scale=s,
                                                 multiple=self.multiple, region=(oy, oy + h, ox, ox + w)):
            ya, yb, xa, xb = max(y0, oy) - oy, min(y1, oy + h) - oy, max(x0, ox) - ox, min(x1, ox + w) - ox
            if ya >= yb or xa >= xb:
                continue
            piece = result[:, (ya + oy - y0) * s:(yb + oy - y0) * s, (xa + ox - x0) * s:(xb + ox - x0) * s]
            done = finish(piece, (ya, yb, xa, xb))
            if out is None:
                out = np.empty((h * s, w * s) + done.shape[2:], done.dtype)
            out[ya * s:yb * s, xa * s:xb * s] = done
        return out

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the network on a ``(C, H, W)`` float array, tiled; returns ``(C_out, H*s, W*s)`` float32."""
        out = self._stream(np.moveaxis(x, 0, -1), lambda win: win.transpose(2, 0, 1)[None],
                          lambda piece, core: piece.transpose(1, 2, 0))
        return out.transpose(2, 0, 1)


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
        white_level = check_white_level(white_level, mosaic, name="mosaic")
        # shifted and padded to read RGGB from the top-left with sides divisible by `multiple`
        top, left = _bayer.rggb_offset(pattern)
        h, w = mosaic.shape
        align = (top, (-(h + top)) % self.multiple, left, (-(w + left)) % self.multiple)

        def finish(rgb, core):
            bgr = cv2.merge([rgb[2], rgb[1], rgb[0]])
            if mosaic.dtype.kind == "f":
                np.clip(bgr, 0.0, 1.0, out=bgr)
            return from_float(bgr, mosaic.dtype, white_level)
        # the mosaic stays in its dtype; tiles go to float32 and back one at a time
        return self._stream(mosaic, lambda t: to_float(t, white_level)[None, None], finish, align=align)


def _rgb_like(image: np.ndarray, model_channels: int):
    """``(to_input, restore)`` for a checked gray ``HxW`` or BGR ``HxWx3`` image and a model of
    ``model_channels``: a window to the model's ``(1, C, h, w)`` float32 input (RGB order, gray
    repeated, or BGR to gray as OpenCV's ``BGR2GRAY``), and the model's ``(C_out, h, w)`` output
    back to the image's layout (``h x w`` for gray, BGR ``h x w x 3``)."""
    if image.ndim == 2:
        def to_input(win):
            x = to_float(win)[None]
            return np.repeat(x, 3, axis=0)[None] if model_channels == 3 else x[None]
        return to_input, lambda y: y.mean(axis=0) if y.shape[0] == 3 else y[0]
    if model_channels == 1:
        return (lambda win: cv2.cvtColor(to_float(win), cv2.COLOR_BGR2GRAY)[None, None],
                lambda y: np.repeat(y[0][..., None], 3, axis=2))
    return lambda win: to_float(win)[:, :, ::-1].transpose(2, 0, 1)[None], lambda y: y[::-1].transpose(1, 2, 0)


def _replicated(image: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0:y1`` and columns ``x0:x1`` of ``image``, reaching past its border by repeating the edge."""
    h, w = image.shape[:2]
    return take_window(image, np.clip(np.arange(y0, y1), 0, h - 1), np.clip(np.arange(x0, x1), 0, w - 1))


class UpscaleModel(Model):
    task = "sr"
    _CUBIC_MARGIN = 4  # input pixels of context that cv2.resize's bicubic taps need (2) around a tile, with room

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Upscale a gray (``HxW`` or ``HxWx1``) or BGR image by the model's scale; same dtype and
        channels (``HxWx1`` stays ``HxWx1``).

        A luma model (one input channel) upscales the Y of a BGR image (BT.601, OpenCV's
        ``YCrCb``); the chroma planes are upscaled by bicubic interpolation (``cv2.resize``), to
        which the eye is far less sensitive. Each tile goes to float32 and back on its own.
        """
        keep_axis = getattr(image, "ndim", 0) == 3 and image.shape[2] == 1
        image = check_image(image, channels=(1, 3), min_size=1)
        dtype, s = image.dtype, self.scale
        if self.in_channels == 1 and image.ndim == 3:
            m = self._CUBIC_MARGIN

            def to_input(win):
                return np.ascontiguousarray(cv2.cvtColor(to_float(win), cv2.COLOR_BGR2YCrCb)[:, :, 0])[None, None]

            def finish(y, core):
                y0, y1, x0, x1 = core  # chroma of these pixels: bicubic of the tile with the edge repeated
                ycc = cv2.cvtColor(to_float(_replicated(image, y0 - m, y1 + m, x0 - m, x1 + m)), cv2.COLOR_BGR2YCrCb)
                up = cv2.resize(ycc, (ycc.shape[1] * s, ycc.shape[0] * s), interpolation=cv2.INTER_CUBIC)
                up = np.ascontiguousarray(up[m * s:(m + y1 - y0) * s, m * s:(m + x1 - x0) * s])
                up[..., 0] = np.clip(y[0], 0.0, 1.0)
                return from_float(np.clip(cv2.cvtColor(up, cv2.COLOR_YCrCb2BGR), 0.0, 1.0), dtype)
        else:
            to_input, restore = _rgb_like(image, self.in_channels)

            def finish(y, core):
                return from_float(np.clip(restore(y), 0.0, 1.0), dtype)
        out = self._stream(image, to_input, finish)
        return out[:, :, None] if keep_axis else out


class EdgeModel(Model):
    task = "edges"

    def __call__(self, image: np.ndarray, thin: bool = False, threshold: float = 0.5) -> np.ndarray:
        """Boundary probability of a gray (``HxW`` or ``HxWx1``) or BGR image: float32 ``HxW`` in [0, 1];
        with ``thin``, uint8 ``HxW`` thin edges (255, else 0, as ``cv2.Canny`` gives): the pixels of
        probability at least ``threshold`` that are maxima across the local edge orientation
        (:mod:`imgadapt._nms`)."""
        if not isinstance(thin, (bool, np.bool_)):
            raise InputDtypeError(f"thin: expected a bool, got {type(thin).__name__}")
        threshold = _nms.check_threshold(threshold)
        image = check_image(image, channels=(1, 3), min_size=1)
        to_input, _ = _rgb_like(image, self.in_channels)
        prob = self._stream(image, to_input, lambda y, core: np.clip(y[0], 0.0, 1.0).astype(np.float32, copy=False))
        return _nms.thin_edges(prob, threshold) if thin else prob


_CLASSES = {cls.task: cls for cls in (DemosaicModel, UpscaleModel, EdgeModel)}


def load(name: str | None = None, *, task: str | None = None, providers=None, threads: int | None = None,
         tile: int | None = DEFAULT_TILE, strict: bool = False, registry: Registry | None = None) -> Model:
    """Load a model by name, verified against its card's checksum; its session is created once and reused.

    Args:
        name: ``task/name`` as listed by :func:`list_models`; ``None`` with ``task`` picks the default.
        task: restrict the lookup to ``demosaic``, ``sr`` or ``edges``.
        providers: ``None`` (CUDA, then CPU, whichever onnxruntime offers) or a list such as ``["cpu"]``.
        threads: intra-op threads of onnxruntime, an integer >= 1 (``None``: onnxruntime's default).
        tile: largest core tile size in pixels, an integer (``0`` or ``None``: whole image at once).
            Frames are cut into equal tiles of at most this size; each is read from the input,
            converted to float32 and written into the output on its own, so memory is the input,
            the output and one tile's working set.
        strict: ``True`` or ``False``: fail with :class:`ProviderError` instead of falling back to
            another provider.

    Integer options refuse bools, floats and strings (:class:`InputDtypeError`) and values out of
    range (:class:`InputValueError`); ``strict`` refuses anything but a bool.
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
