"""``imgadapt convert``: camera RAW files in, finished images out (:mod:`imgadapt.raw.convert` runs
the batch); failing files are reported and the batch goes on, and a rerun resumes."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from .._io import IMAGE_SUFFIXES
from .._paths import show
from ..bayer import PATTERNS
from ..raw.convert import FORMATS
from .args import add_max_megapixels, count, exposure_arg, max_pixels, positive, wb_arg
from .batch import expand_inputs
from .status import FAILED, INTERRUPTED, OK, CommandError, usage_error

log = logging.getLogger("imgadapt")


def add_parser(sub) -> None:
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
    p.add_argument("--wb", type=wb_arg, default="camera", metavar="camera|daylight|none|R,G,B",
                   help="white balance: as shot (default), daylight, none, or multipliers")
    p.add_argument("--colorspace", choices=["srgb", "raw"], default="srgb",
                   help="srgb through the camera matrix (default) or raw camera RGB")
    p.add_argument("--gamma", choices=["srgb", "linear"], default="srgb", help="transfer curve (default srgb)")
    p.add_argument("--exposure", type=exposure_arg, default="auto", metavar="auto|EV",
                   help="auto (default): the brightness of LibRaw's default development (the level 1%% of the "
                        "pixels exceed made white, then LibRaw's mean level; never darker than the sensor's "
                        "scale); or EV on the sensor's scale: 0 maps the white level to white, -1 halves, 1 doubles")
    p.add_argument("--highlights", choices=["clip", "blend", "reconstruct"], default="clip",
                   help="clipped highlights: clip to neutral white (default), blend (dcraw -H 2) or reconstruct "
                        "from the unclipped channels (dcraw -H 3+); use a negative --exposure to see what returns")
    p.add_argument("--strip-metadata", action="store_true",
                   help="do not copy the camera's EXIF (camera, lens, exposure, date, GPS) into the outputs; "
                        "the ICC profile, which describes the pixels, is still written")
    p.add_argument("--pattern", default=None, type=str.upper, choices=PATTERNS,
                   help="Bayer pattern of plain TIFF/PNG/NPY mosaics (camera RAW files record theirs)")
    p.add_argument("--white-level", type=positive, default=None, help="full scale of plain 10/12/14-bit mosaics")
    p.add_argument("--workers", type=count(0), default=None,
                   help="worker processes (default one per CPU; 0 converts in this process) or Ray actors "
                        "(default one per cluster CPU)")
    p.add_argument("--threads", type=count(1), default=1, help="onnxruntime intra-op threads per worker (default 1)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster (files on storage every node sees)")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS or a local instance)")
    p.add_argument("--cpu", action="store_true", help="use the CPU even when CUDA is available")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    add_max_megapixels(p)
    p.add_argument("--timeout", type=positive, default=None, metavar="SECONDS",
                   help="fail a file that takes longer and replace its worker (default: no limit)")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="only report errors; no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import importlib.util

    from .. import raw
    from .._model import registry
    from ..raw import convert
    from .progress import Progress

    card = registry().resolve(args.model, "demosaic")
    registry().verified_bytes(card)  # a corrupt model stops the batch here, not in every worker
    suffixes = raw.RAW_SUFFIXES | (raw.MOSAIC_SUFFIXES if args.pattern else set())
    files = expand_inputs(args.inputs, suffixes)
    if not files:
        raise CommandError(
            f"no input files matched {' '.join(show(i) for i in args.inputs)} (folders are scanned for "
            f"{'RAW files and plain mosaics' if args.pattern else 'camera RAW files; add --pattern for mosaics'})",
            FAILED)
    plain = [f for f in files if f.suffix.lower() in raw.MOSAIC_SUFFIXES]
    if plain and args.pattern and (args.wb in ("camera", "daylight") or args.colorspace == "srgb"):
        raise CommandError(f"error: plain mosaics ({show(plain[0])} ...) record no white balance or colour matrix: "
                           f"pass --wb none (or R,G,B multipliers) and --colorspace raw")
    if len(plain) < len(files) and importlib.util.find_spec("rawpy") is None:
        raise CommandError(f"error: reading camera RAW files needs rawpy (LibRaw): {raw.RAW_EXTRA}")
    settings = convert.Settings(
        model=card["name"], wb=args.wb, colorspace=args.colorspace, gamma=args.gamma, exposure=args.exposure,
        highlights=args.highlights, metadata=not args.strip_metadata, fmt=args.format,
        bits=args.bits, pattern=args.pattern, white_level=args.white_level,
        max_pixels=max_pixels(args), threads=args.threads, providers=("cpu",) if args.cpu else None)
    out = Path(args.output)
    if not out.exists() and out.suffix.lower() in IMAGE_SUFFIXES:
        raise CommandError(f"error: -o expects an output folder, got the file name {show(out)}")
    jobs, settled = convert.plan(files, out, settings.suffix, overwrite=args.overwrite, max_pixels=settings.max_pixels)
    quiet = getattr(args, "quiet", False)
    progress = Progress(len(jobs) + len(settled), enabled=False if quiet else None)
    counts = {"converted": 0, "skipped": 0, "failed": 0}
    failures: list[convert.Result] = []
    megapixels = 0.0

    def report(result: convert.Result) -> None:
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
            convert.run_ray(jobs, settings, workers, report, address=args.ray_address, timeout=args.timeout)
        elif workers == 0:
            if args.timeout is not None:
                raise CommandError("error: --timeout needs worker processes (--workers 1 or more)")
            convert.run_inprocess(jobs, settings, report)
        else:
            convert.run_local(jobs, settings, workers or convert.default_workers(), report, timeout=args.timeout)
    except KeyboardInterrupt:
        progress.close()
        raise CommandError(f"interrupted: {counts['converted']} converted, {counts['skipped']} skipped, "
                           f"{counts['failed']} failed, {progress.total - sum(counts.values())} unfinished; "
                           f"rerun the same command to resume", INTERRUPTED) from None
    except ImportError as exc:
        progress.close()
        raise usage_error(exc) from None
    progress.close()
    elapsed = time.perf_counter() - start
    speed = f", {megapixels / elapsed:.2f} MP/s" if megapixels and elapsed > 0 else ""
    summary = (f"{counts['converted']} converted, {counts['skipped']} skipped (output exists), "
               f"{counts['failed']} failed, of {progress.total} files in {elapsed:.1f} s{speed} with {card['name']}")
    if failures:
        log.error("%s; failed:", summary)
        for r in sorted(failures, key=lambda r: r.index):
            log.error("  %s: %s", show(r.src), show(r.message))
        return FAILED
    log.info("%s", summary)
    return OK
