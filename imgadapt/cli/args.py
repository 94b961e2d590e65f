"""Option types and shared options of the ``imgadapt`` commands (argparse ``type=`` parsers)."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2


def max_pixels(args) -> int:
    return round(args.max_megapixels * 1e6)


def wb_arg(text: str):
    """``--wb``: camera, daylight, none, or multipliers R,G,B: finite, positive and within a factor
    of 1000 of each other (:func:`imgadapt.raw.colour.check_multipliers`)."""
    from ..errors import InputValueError
    from ..raw.colour import check_multipliers

    if text.lower() in ("camera", "daylight", "none"):
        return text.lower()
    expected = "expected camera, daylight, none or three positive multipliers R,G,B"
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
    try:
        check_multipliers(values, "--wb")
    except InputValueError as exc:
        _, ratio, rest = str(exc).partition(" (largest / smallest")
        raise argparse.ArgumentTypeError(f"{expected}, finite and within a factor of 1000 of each other, got "
                                         f"{text!r}{ratio + rest if ratio else ''}") from None
    return values


def exposure_arg(text: str):
    """``--exposure``: auto, or a finite number of EV within +-24 (:func:`imgadapt.raw.check_exposure`)."""
    if text.strip().lower() == "auto":
        return "auto"
    expected = "expected auto or a number of EV (0: the sensor's scale, -1 halves, 1 doubles)"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
    if not abs(value) <= 24:
        raise argparse.ArgumentTypeError(f"{expected}, finite and within +-24, got {text!r}")
    return value


def count(minimum: int):
    """An integer of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def megapixels(text: str) -> float:
    """``--max-megapixels``: a positive number, at least 4 pixels (the smallest Bayer mosaic)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value < float("inf") and round(value * 1e6) >= 4):
        raise argparse.ArgumentTypeError(f"expected a positive number of megapixels, at least 0.000004 (4 pixels), "
                                         f"got {text!r}")
    return value


def suffix_arg(text: str) -> str:
    """``--suffix``: the end of an output name; its extension picks the format (one OpenCV writes, or .npy)."""
    name = "x" + text
    if any(ch in text for ch in "/\\\0") or not (Path(name).suffix.lower() == ".npy" or cv2.haveImageWriter(name)):
        raise argparse.ArgumentTypeError(f"expected a name ending such as .png or _x2.tif (an extension of a format "
                                         f"OpenCV writes, or .npy; no path separators), got {text!r}")
    return text


def noise_pair(text: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers A,B (variance A*x+B), got {text!r}") from None
    if a < 0 or b < 0:
        raise argparse.ArgumentTypeError(f"noise parameters must be >= 0, got {text!r}")
    return a, b


def add_batch_args(p, task: str, suffix: str) -> None:
    """The options of the image batch commands (``demosaic``, ``upscale``, ``edges``)."""
    p.add_argument("inputs", nargs="+", help="files, folders or globs")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    p.add_argument("--model", default=None, help=f"a {task} model name (default: the best shipped one)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.add_argument("--cpu", action="store_true", help="use the CPU even when CUDA is available")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--suffix", type=suffix_arg, default=suffix,
                   help=f"output name suffix in a folder (default {suffix})")
    add_max_megapixels(p)
    p.set_defaults(task=task)


def add_max_megapixels(p) -> None:
    p.add_argument("--max-megapixels", type=megapixels, default=200,
                   help="refuse larger images before decoding them (default 200)")
