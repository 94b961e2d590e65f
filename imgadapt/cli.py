"""The ``imgadapt`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from . import __version__, _bayer
from ._batch import expand_inputs
from ._convert import FORMATS
from ._errors import ImgadaptError
from ._io import IMAGE_SUFFIXES
from ._paths import show

log = logging.getLogger("imgadapt")


def _max_pixels(args) -> int:
    return round(args.max_megapixels * 1e6)


def _run_batch(args, process) -> int:
    """Plan every output, then process file by file (see :mod:`imgadapt._batch`)."""
    from . import _batch

    return _batch.run(args, process, _max_pixels(args))


def _cmd_upscale(args) -> int:
    """``imgadapt upscale``: the named model, or the default one for ``--scale``."""
    from ._model import default_upscaler, registry

    try:
        args.model = args.model or default_upscaler(args.scale)
    except ImgadaptError as exc:
        log.error("error: no super-resolution model for x%d is installed (%s)", args.scale, exc)
        return 2
    try:
        card = registry().resolve(args.model, "sr")
    except ImgadaptError as exc:
        log.error("error: %s", show(exc))
        return 2
    if int(card.get("scale", 0)) != args.scale:
        log.error("error: model %s upscales x%s, but --scale %d was given", card["name"], card.get("scale"), args.scale)
        return 2
    return _run_batch(args, lambda m, x: m(x))


def _cmd_edges(args) -> int:
    """``imgadapt edges``: probability scaled to the full 8- or 16-bit range, or thin edges as 0/255."""
    import numpy as np

    if args.threshold > 1:
        log.error("error: --threshold expects a probability in (0, 1], got %g", args.threshold)
        return 2

    def process(model, image):
        out = model(image, thin=args.thin, threshold=args.threshold)
        if args.thin:
            return out
        top = 255 if args.bits == 8 else 65535
        return np.rint(out * top).astype(np.uint8 if args.bits == 8 else np.uint16)
    return _run_batch(args, process)


def _cmd_models(args) -> int:
    from . import list_models, model_info

    for name in list_models(args.task):
        card = model_info(name)
        metrics = card.get("metrics", {}).get("summary", "")
        print(f"{name:32s} {card.get('kind', ''):10s} {card.get('params', '')!s:>8s}  {metrics}")
    return 0


def _cmd_info(args) -> int:
    from . import model_info

    print(json.dumps(model_info(args.name), indent=2))
    return 0


def _cmd_eval(args) -> int:
    from . import _evaluate, list_models

    if args.task == "edges":
        return _eval_edges(args)
    try:
        images = _evaluate.load_images(args.images)
    except (FileNotFoundError, NotADirectoryError) as exc:
        log.error("error: %s", show(exc))
        return 2
    if args.task == "sr":
        return _eval_sr(args, images)
    if args.task == "raw":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="imgadapt-eval-raw-") as workdir:
            rows = _evaluate.evaluate_raw(images, workdir, model=(args.models or [None])[0], linearize=args.linearize,
                                          repeats=args.repeats, workers=args.workers)
        return _report(rows, f"{'method':48s} {'source':26s} {'PSNR dB':>8s} {'MP/s':>7s}",
                       lambda r: f"{r['method']:48s} {r['source']:26s} {r['psnr_db']:8.3f} {r['mp_s']:7.2f}",
                       args.json, sort=False)
    models = args.models or list_models("demosaic")
    methods = _evaluate.demosaic_methods(models, peers=not args.no_peers, denoise_peers=args.noise is not None and not args.no_peers)
    crop = 8 if args.crop is None else args.crop
    rows = _evaluate.evaluate_demosaic(images, methods, pattern=args.pattern, crop=crop, repeats=args.repeats,
                                       noise=args.noise)
    return _report(rows, f"{'method':28s} {'source':20s} {'PSNR dB':>8s} {'MP/s':>9s}",
                   lambda r: f"{r['method']:28s} {r['source']:20s} {r['psnr_db']:8.3f} {r['mp_s']:9.2f}", args.json)


def _report(rows: list[dict], header: str, line, json_path: str | None, sort: bool = True) -> int:
    """Print an evaluation table (best PSNR first unless ``sort`` is off) and write the rows as JSON."""
    print(header)
    for r in sorted(rows, key=lambda r: -r["psnr_db"]) if sort else rows:
        print(line(r))
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def _eval_sr(args, images) -> int:
    """``imgadapt eval sr``: Y-PSNR and output MP/s of the sr models for ``--scale`` and the OpenCV peers."""
    from . import _evaluate

    if args.scale is None:
        log.error("error: eval sr needs --scale (2 to 8)")
        return 2
    methods = _evaluate.sr_methods(args.scale, models=args.models or None, peers=not args.no_peers,
                                   ensemble=args.ensemble)
    if not methods:
        log.error("error: nothing to measure: no sr model for x%d is installed and --no-peers was given", args.scale)
        return 2
    rows = _evaluate.evaluate_sr(images, args.scale, methods, crop=args.crop, repeats=args.repeats)
    return _report(rows, f"{'method':28s} {'source':20s} {'scale':>5s} {'Y-PSNR dB':>9s} {'MP/s out':>9s}",
                   lambda r: f"{r['method']:28s} {r['source']:20s} {'x' + str(r['scale']):>5s} "
                             f"{r['psnr_db']:9.3f} {r['mp_s']:9.2f}", args.json)


def _eval_edges(args) -> int:
    """``imgadapt eval edges``: BSDS-style ODS/OIS/AP and input MP/s of the edges models and OpenCV peers."""
    from . import _evaluate
    from ._boundary_io import load_edge_dataset

    if args.gt is None:
        log.error("error: eval edges needs --gt DIR (NAME.png, NAME_0.png NAME_1.png ..., or NAME.mat per image)")
        return 2
    try:
        dataset = load_edge_dataset(args.images, args.gt)
        methods = _evaluate.edge_methods(args.models or None, peers=not args.no_peers)
        if not methods:
            log.error("error: nothing to measure: no edges model is installed and --no-peers was given")
            return 2
        rows = _evaluate.evaluate_edges(dataset, methods, repeats=args.repeats)
    except (FileNotFoundError, NotADirectoryError, ImportError) as exc:
        log.error("error: %s", show(exc))
        return 2
    rows.sort(key=lambda r: -r["ods"])
    return _report(rows, f"{'method':24s} {'source':16s} {'ODS':>6s} {'OIS':>6s} {'AP':>6s} {'ODS at':>12s} {'MP/s':>9s}",
                   lambda r: f"{r['method']:24s} {r['source']:16s} {r['ods']:6.4f} {r['ois']:6.4f} {r['ap']:6.4f} "
                             f"{r['ods_at']:>12s} {r['mp_s']:9.2f}", args.json, sort=False)


def _cmd_convert(args) -> int:
    """``imgadapt convert``: RAW files in, finished images out; see :mod:`imgadapt._convert`."""
    import importlib.util

    from . import _convert
    from . import raw as _raw
    from ._model import registry
    from ._progress import Progress

    card = registry().resolve(args.model, "demosaic")
    registry().verified_bytes(card)  # a corrupt model stops the batch here, not in every worker
    suffixes = _raw.RAW_SUFFIXES | (_raw.MOSAIC_SUFFIXES if args.pattern else set())
    files = expand_inputs(args.inputs, suffixes)
    if not files:
        log.error("no input files matched %s (folders are scanned for %s)", " ".join(show(i) for i in args.inputs),
                  "RAW files and plain mosaics" if args.pattern else "camera RAW files; add --pattern for mosaics")
        return 1
    plain = [f for f in files if f.suffix.lower() in _raw.MOSAIC_SUFFIXES]
    if plain and args.pattern and (args.wb in ("camera", "daylight") or args.colorspace == "srgb"):
        log.error("error: plain mosaics (%s ...) record no white balance or colour matrix: pass --wb none "
                  "(or R,G,B multipliers) and --colorspace raw", show(plain[0]))
        return 2
    if len(plain) < len(files) and importlib.util.find_spec("rawpy") is None:
        log.error("error: reading camera RAW files needs rawpy (LibRaw): %s", _raw.RAW_EXTRA)
        return 2
    settings = _convert.Settings(
        model=card["name"], wb=args.wb, colorspace=args.colorspace, gamma=args.gamma, exposure=args.exposure,
        highlights=args.highlights, metadata=not args.strip_metadata, fmt=args.format,
        bits=args.bits, pattern=args.pattern, white_level=args.white_level,
        max_pixels=_max_pixels(args), threads=args.threads, providers=("cpu",) if args.cpu else None)
    out = Path(args.output)
    if not out.exists() and out.suffix.lower() in IMAGE_SUFFIXES:
        log.error("error: -o expects an output folder, got the file name %s", show(out))
        return 2
    jobs, settled = _convert.plan(files, out, settings.suffix, overwrite=args.overwrite, max_pixels=settings.max_pixels)
    quiet = getattr(args, "quiet", False)
    progress = Progress(len(jobs) + len(settled), enabled=False if quiet else None)
    counts = {"converted": 0, "skipped": 0, "failed": 0}
    failures: list[_convert.Result] = []
    megapixels = 0.0

    def report(result: _convert.Result) -> None:
        nonlocal megapixels
        counts[result.status] += 1
        megapixels += result.megapixels
        n = sum(counts.values())
        progress.clear()
        if result.status == "failed":
            failures.append(result)
            log.error("[%d/%d] FAILED %s: %s", n, progress.total, show(result.src), show(result.message))
        elif not progress.enabled:
            log.info("[%d/%d] %s %s -> %s%s", n, progress.total, result.status, show(result.src), show(result.dst),
                     f" ({result.seconds:.1f} s)" if result.status == "converted" else "")
        progress.advance(timed=result.status != "skipped", failed=result.status == "failed")

    start = time.perf_counter()
    for result in settled:
        report(result)
    workers = args.workers
    try:
        if args.engine == "ray":
            _convert.run_ray(jobs, settings, workers, report, address=args.ray_address, timeout=args.timeout)
        elif workers == 0:
            if args.timeout is not None:
                log.error("error: --timeout needs worker processes (--workers 1 or more)")
                return 2
            _convert.run_inprocess(jobs, settings, report)
        else:
            _convert.run_local(jobs, settings, workers or _convert.default_workers(), report, timeout=args.timeout)
    except KeyboardInterrupt:
        progress.close()
        log.error("interrupted: %d converted, %d skipped, %d failed, %d unfinished; rerun the same command "
                  "to resume", counts["converted"], counts["skipped"], counts["failed"],
                  progress.total - sum(counts.values()))
        return 130
    except ImportError as exc:
        progress.close()
        log.error("error: %s", show(exc))
        return 2
    progress.close()
    elapsed = time.perf_counter() - start
    speed = f", {megapixels / elapsed:.2f} MP/s" if megapixels and elapsed > 0 else ""
    summary = (f"{counts['converted']} converted, {counts['skipped']} skipped (output exists), "
               f"{counts['failed']} failed, of {progress.total} files in {elapsed:.1f} s{speed} with {card['name']}")
    if failures:
        log.error("%s; failed:", summary)
        for r in sorted(failures, key=lambda r: r.index):
            log.error("  %s: %s", show(r.src), show(r.message))
        return 1
    log.info("%s", summary)
    return 0


def _wb_arg(text: str):
    """``--wb``: camera, daylight, none, or multipliers R,G,B: finite, positive and within a factor
    of 1000 of each other (:func:`imgadapt._colour.check_multipliers`)."""
    from ._colour import check_multipliers
    from ._errors import InputValueError

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


def _exposure_arg(text: str):
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


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _megapixels(text: str) -> float:
    """``--max-megapixels``: a positive number, at least 4 pixels (the smallest Bayer mosaic)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value < float("inf") and round(value * 1e6) >= 4):
        raise argparse.ArgumentTypeError(f"expected a positive number of megapixels, at least 0.000004 (4 pixels), "
                                         f"got {text!r}")
    return value


def _suffix_arg(text: str) -> str:
    """``--suffix``: the end of an output name; its extension picks the format (one OpenCV writes, or .npy)."""
    name = "x" + text
    if any(ch in text for ch in "/\\\0") or not (Path(name).suffix.lower() == ".npy" or cv2.haveImageWriter(name)):
        raise argparse.ArgumentTypeError(f"expected a name ending such as .png or _x2.tif (an extension of a format "
                                         f"OpenCV writes, or .npy; no path separators), got {text!r}")
    return text


def _noise_pair(text: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers A,B (variance A*x+B), got {text!r}") from None
    if a < 0 or b < 0:
        raise argparse.ArgumentTypeError(f"noise parameters must be >= 0, got {text!r}")
    return a, b


def _add_batch_args(p, task: str, suffix: str):
    p.add_argument("inputs", nargs="+", help="files, folders or globs")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    p.add_argument("--model", default=None, help=f"a {task} model name (default: the best shipped one)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.add_argument("--cpu", action="store_true", help="use the CPU even when CUDA is available")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--suffix", type=_suffix_arg, default=suffix,
                   help=f"output name suffix in a folder (default {suffix})")
    _add_max_megapixels(p)
    p.set_defaults(task=task)


def _add_max_megapixels(p) -> None:
    p.add_argument("--max-megapixels", type=_megapixels, default=200,
                   help="refuse larger images before decoding them (default 200)")


def _torch_side(module: str, command: str, argv: list[str]) -> int:
    """``imgadapt train|export ...`` run the torch side of a source checkout (``export.<module>.main``)."""
    import importlib

    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "export" / "__init__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        entry = importlib.import_module(f"export.{module}").main
    except ImportError as exc:
        log.error("'imgadapt %s' runs from a source checkout with the train extra "
                  "(pip install -e \".[cpu,train]\"): %s", command, exc)
        return 2
    return int(entry(argv) or 0)


TORCH_COMMANDS = {"train": "train_cli", "export": "export_cli"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgadapt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"imgadapt {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only report errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the installed models")
    p.add_argument("--task", choices=["demosaic", "sr", "edges"])
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("info", help="print a model card")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demosaic", help="demosaic Bayer mosaics stored as PNG, TIFF or NPY")
    _add_batch_args(p, "demosaic", ".png")
    p.add_argument("--pattern", default="RGGB", type=str.upper, choices=_bayer.PATTERNS)
    p.add_argument("--white-level", type=float, default=None, help="full scale of 10/12/14-bit data in uint16")
    p.set_defaults(func=lambda a: _run_batch(a, lambda m, x: m(x, pattern=a.pattern, white_level=a.white_level)))

    p = sub.add_parser("upscale", help="upscale gray or colour images (PNG, TIFF, NPY) by a factor")
    _add_batch_args(p, "sr", ".png")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor (see 'imgadapt models --task sr')")
    p.set_defaults(func=_cmd_upscale)

    p = sub.add_parser("edges", help="boundary probability maps (16- or 8-bit gray PNG) or thin 0/255 edges")
    _add_batch_args(p, "edges", ".png")
    p.add_argument("--thin", action="store_true",
                   help="write thin edges (255 on edges, 0 elsewhere, like cv2.Canny): non-maximum suppression "
                        "across the edge, then --threshold")
    p.add_argument("--threshold", type=_positive, default=0.5, help="--thin: least edge probability (default 0.5)")
    p.add_argument("--bits", type=int, choices=[8, 16], default=16,
                   help="probability maps: bits per pixel of the gray output (default 16)")
    p.set_defaults(func=_cmd_edges)

    p = sub.add_parser("convert", help="develop camera RAW files into PNG or TIFF images (batch, resumable)",
                       description="Develop camera RAW files (DNG, CR2, NEF, ARW, ORF, RW2, PEF, ...) into finished "
                                   "images. Failing files are reported and the batch goes on (exit status 1); "
                                   "outputs are written atomically and existing ones skipped, so a rerun resumes.")
    p.add_argument("inputs", nargs="+", help="RAW files, folders (their RAW files; with --pattern also "
                                             "TIFF/PNG/NPY mosaics) or globs")
    p.add_argument("-o", "--output", required=True, help="output folder (created if needed; never an input folder)")
    p.add_argument("--model", default=None, help="a demosaic model name (default: the best shipped one)")
    p.add_argument("--format", choices=sorted(FORMATS), default="png", help="output format (default png)")
    p.add_argument("--bits", type=int, choices=[8, 16], default=16, help="bits per channel (default 16)")
    p.add_argument("--wb", type=_wb_arg, default="camera", metavar="camera|daylight|none|R,G,B",
                   help="white balance: as shot (default), daylight, none, or multipliers")
    p.add_argument("--colorspace", choices=["srgb", "raw"], default="srgb",
                   help="srgb through the camera matrix (default) or raw camera RGB")
    p.add_argument("--gamma", choices=["srgb", "linear"], default="srgb", help="transfer curve (default srgb)")
    p.add_argument("--exposure", type=_exposure_arg, default="auto", metavar="auto|EV",
                   help="auto (default): the brightness of LibRaw's default development (the level 1%% of the "
                        "pixels exceed made white, then LibRaw's mean level; never darker than the sensor's "
                        "scale); or EV on the sensor's scale: 0 maps the white level to white, -1 halves, 1 doubles")
    p.add_argument("--highlights", choices=["clip", "blend", "reconstruct"], default="clip",
                   help="clipped highlights: clip to neutral white (default), blend (dcraw -H 2) or reconstruct "
                        "from the unclipped channels (dcraw -H 3+); use a negative --exposure to see what returns")
    p.add_argument("--strip-metadata", action="store_true",
                   help="do not copy the camera's EXIF (camera, lens, exposure, date, GPS) into the outputs; "
                        "the ICC profile, which describes the pixels, is still written")
    p.add_argument("--pattern", default=None, type=str.upper, choices=_bayer.PATTERNS,
                   help="Bayer pattern of plain TIFF/PNG/NPY mosaics (camera RAW files record theirs)")
    p.add_argument("--white-level", type=_positive, default=None, help="full scale of plain 10/12/14-bit mosaics")
    p.add_argument("--workers", type=_count(0), default=None,
                   help="worker processes (default one per CPU; 0 converts in this process) or Ray actors "
                        "(default one per cluster CPU)")
    p.add_argument("--threads", type=_count(1), default=1, help="onnxruntime intra-op threads per worker (default 1)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster (files on storage every node sees)")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS or a local instance)")
    p.add_argument("--cpu", action="store_true", help="use the CPU even when CUDA is available")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    _add_max_megapixels(p)
    p.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                   help="fail a file that takes longer and replace its worker (default: no limit)")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="only report errors; no progress bar")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("eval", help="quality and speed of models next to the peers, in one run")
    p.add_argument("task", choices=["demosaic", "raw", "sr", "edges"],
                   help="demosaic: models and peers on mosaics in memory; raw: 'imgadapt convert' and LibRaw AHD "
                        "on 14-bit DNG files made from the images (linear 16-bit output); sr: models and peers "
                        "upscaling antialiased-bicubic downscales of the images (Y-PSNR); edges: boundary models "
                        "and OpenCV Sobel/Canny against --gt (BSDS ODS/OIS/AP)")
    p.add_argument("--images", "--hr", dest="images", required=True,
                   help="folder of clean colour images (ground truth; --hr for sr; edges: 8-bit gray or colour)")
    p.add_argument("--gt", default=None,
                   help="edges: ground-truth folder: NAME.png (nonzero = boundary), NAME_0.png NAME_1.png ... "
                        "(one per annotator) or NAME.mat (BSDS500) for each image NAME.*")
    p.add_argument("--scale", type=int, default=None, help="sr: upscaling factor, 2 to 8")
    p.add_argument("--models", nargs="*", default=None,
                   help="models to measure (default: all of the task; sr: all for --scale)")
    p.add_argument("--no-peers", action="store_true", help="skip the peers")
    p.add_argument("--ensemble", action="store_true",
                   help="sr: also each model as upscale(..., ensemble=True), the 8 flips and rotations averaged")
    p.add_argument("--crop", type=int, default=None, help="border excluded from PSNR (default 8; sr: the scale)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per method (median)")
    p.add_argument("--json", default=None, help="write the rows as JSON")
    p.add_argument("--pattern", default="RGGB", type=str.upper, choices=_bayer.PATTERNS,
                   help="demosaic: the Bayer pattern the images are mosaicked with (default RGGB)")
    p.add_argument("--noise", type=_noise_pair, default=None, metavar="A,B",
                   help="add sensor noise of variance A*x+B to the mosaics (and measure denoising peers)")
    p.add_argument("--linearize", action="store_true", help="raw: decode the images from sRGB to linear light first")
    p.add_argument("--workers", type=_count(1), default=None, help="raw: worker processes of the batch (default: CPUs)")
    p.set_defaults(func=_cmd_eval)

    from . import _bench_cli

    _bench_cli.add_parser(sub, _count, _positive)

    p = sub.add_parser("train", help="train, export and measure a model (source checkout, train extra); "
                                      "'imgadapt train --help' lists its options")
    sub.add_parser("export", help="optimise, export to ONNX, verify and report a trained model (source checkout, "
                                  "train extra); 'imgadapt export --help' lists its options")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in TORCH_COMMANDS:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return _torch_side(TORCH_COMMANDS[argv[0]], argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except ImgadaptError as exc:
        log.error("error: %s", show(exc))
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
