"""Where the time of RAW development goes, next to LibRaw in the same process.

``python -m imgadapt.raw.profile FILE... [--repeats N] [--model NAME] [--json PATH]``

For each file, interleaved in every round so that a busy machine slows both alike (median of
``--repeats`` rounds after one warm-up): LibRaw's ``rawpy.imread`` + ``postprocess()`` (its
defaults but the as-shot white balance: AHD, sRGB, automatic brightness, 8 bits; rawpy decodes
the file inside ``postprocess``), its decoding alone (``unpack``) and ``postprocess`` on a
decoded file; imgadapt's :func:`imgadapt.raw.read` (LibRaw decode and
the EXIF) and :func:`imgadapt.raw.develop` (the defaults: as-shot white balance, sRGB, automatic
exposure, 16 bits), with develop's stages; then, in rounds of their own, the encoding of the
output (PNG and TIFF with metadata, on disk through :func:`imgadapt.raw.write`), whose write-back
would otherwise slow the next round's first steps.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .._checks import full_scale

STAGES = ("scale", "demosaic", "highlights", "exposure", "colour+curve", "orient")


def profile_file(path: str, model, repeats: int = 5, dtype: str = "uint16", highlights: str = "clip") -> dict:
    """Timings of one file (seconds, median over ``repeats`` rounds) and their ratios to LibRaw."""
    import rawpy

    from .. import raw
    from .develop import _develop

    rows: dict[str, list[float]] = {}

    def timed(name, fn):
        start = time.perf_counter()
        result = fn()
        rows.setdefault(name, []).append(time.perf_counter() - start)
        return result

    def libraw_full():
        with rawpy.imread(path) as r:
            return r.postprocess(use_camera_wb=True)

    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(repeats + 1):
            if round_ == 1:
                rows.clear()  # the first round warms up
            reference = timed("libraw imread+postprocess", libraw_full)
            with rawpy.imread(path) as r:
                timed("libraw unpack (decode)", r.unpack)
                timed("libraw postprocess", lambda: r.postprocess(use_camera_wb=True))
            image = timed("imgadapt read", lambda: raw.read(path))
            marks: list[tuple[str, float]] = []
            mults = raw.wb_multipliers(image, "camera")
            start = time.perf_counter()
            out = _develop(image, model, mults, image.camera_to_srgb, "srgb", np.dtype(dtype), None, highlights,
                               True, lambda stage: marks.append((stage, time.perf_counter())))
            rows.setdefault("imgadapt develop", []).append(time.perf_counter() - start)
            last = start
            for stage, at in marks:
                rows.setdefault(f"  {stage}", []).append(at - last)
                last = at
        # Encoding in rounds of its own: the system's write-back of a written file keeps a core busy
        # for a while after write() returns, which would slow whatever the next round timed first.
        for suffix in (".png", ".tif"):
            target = Path(folder) / f"out{suffix}"
            raw.write(target, out, image)  # warm-up
            for _ in range(repeats):
                timed(f"write {suffix[1:]} (raw.write)", lambda t=target: raw.write(t, out, image))
    median = {name: float(np.median(values)) for name, values in rows.items()}
    median["imgadapt read+develop"] = median["imgadapt read"] + median["imgadapt develop"]
    ratios = {
        "develop / libraw postprocess (decoded)": median["imgadapt develop"] / median["libraw postprocess"],
        "read+develop / libraw imread+postprocess": median["imgadapt read+develop"]
        / median["libraw imread+postprocess"],
        "demosaic model / libraw postprocess": median["  demosaic"] / median["libraw postprocess"],
        "demosaic share of develop": median["  demosaic"] / median["imgadapt develop"],
        # brightness: the mean level of the default development against LibRaw's (8-bit) default
        "mean level / libraw default": (float(out.mean()) / full_scale(out.dtype)) / (float(reference.mean()) / 255),
    }
    h, w = image.mosaic.shape
    return {"file": str(path), "megapixels": round(h * w / 1e6, 2), "seconds": median, "ratios": ratios,
            "runs": {k: [round(v, 4) for v in vs] for k, vs in rows.items()}}


def main(argv: list[str] | None = None) -> int:
    from .._model import load

    parser = argparse.ArgumentParser(prog="python -m imgadapt.raw.profile", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: its own)")
    parser.add_argument("--highlights", default="clip")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    model = load(args.model, task="demosaic", threads=args.threads)
    results = []
    for path in args.files:
        result = profile_file(path, model, args.repeats, highlights=args.highlights)
        results.append(result)
        print(f"{path} ({result['megapixels']} MP, {model.name}; median of {args.repeats})")
        for name, seconds in result["seconds"].items():
            print(f"  {name:40s} {seconds:7.3f} s")
        for name, ratio in result["ratios"].items():
            print(f"  {name:40s} {ratio:7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
