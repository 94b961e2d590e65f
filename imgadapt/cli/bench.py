"""The ``imgadapt bench`` command: tables, JSON rows and charts of :mod:`imgadapt.bench.suite`."""
from __future__ import annotations

import argparse

from ..bench import suite
from ..bench.table import METHOD, SOURCE, Column, render, write_json
from ..errors import ImgadaptError
from .args import count, positive
from .status import OK, CommandError

DESCRIPTION = (
    "Every imgadapt model of the task and every installed peer on the same images, in one run: quality "
    "by the README's protocol (demosaic: RGB PSNR of RGGB mosaics, 8-px border; sr: Y-PSNR of antialiased-"
    "bicubic downscales, scale-px border; edges: BSDS ODS/OIS/AP against --gt), throughput in megapixels "
    "per second (input; sr: output) after a warm-up pass, median of --repeats passes, and peak memory: the "
    "rise of the resident-set high-water mark while the method runs in a fresh process. Peers whose "
    "package is missing are skipped with a note. --scaling measures the models on synthetic frames up to "
    "24 MP instead, tiled and untiled. Charts are drawn with OpenCV.")


def _sizes(text: str) -> tuple[float, ...]:
    try:
        return suite.check_sizes(float(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated megapixels such as 1,4,24: {exc}") from None


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="models and every installed peer: quality, speed, memory, chart",
                       description=DESCRIPTION)
    p.add_argument("task", choices=suite.TASKS)
    p.add_argument("--images", "--hr", dest="images", default=None,
                   help="folder of clean 8-bit colour images (edges: scenes); not needed with --scaling")
    p.add_argument("--gt", default=None, help="edges: ground-truth folder (NAME.png, NAME_0.png ..., or NAME.mat)")
    p.add_argument("--scale", type=int, default=None, help="sr: upscaling factor, 2 to 8")
    p.add_argument("--models", nargs="+", default=None, help="imgadapt models (default: all of the task / scale)")
    p.add_argument("--only", nargs="+", default=None, metavar="METHOD", help="measure only these models and peers")
    p.add_argument("--repeats", type=count(1), default=5, help="timed passes per method (median; default 5)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--json", default=None, help="write the rows as JSON")
    p.add_argument("--plot", default=None, help="write the chart (PNG)")
    p.add_argument("--scaling", action="store_true", help="speed and memory on synthetic frames of --sizes")
    p.add_argument("--sizes", type=_sizes, default=suite.SCALING_SIZES,
                   help="--scaling: frame megapixels, comma-separated (default 1,2,4,8,16,24)")
    p.add_argument("--untiled-max", type=positive, default=suite.UNTILED_MAX_MP,
                   help="--scaling: also run models untiled on inputs of more than one tile up to this many "
                        f"input megapixels (default {suite.UNTILED_MAX_MP:g})")
    p.add_argument("--api-overhead", action="store_true",
                   help="the public API against the bare network on one frame of --api-megapixels (uint16 mosaic / "
                        "uint8 BGR), and --batch-frames frames of 512x512 in a loop against Model.batch")
    p.add_argument("--api-megapixels", type=positive, default=24.0, help="--api-overhead: frame size (default 24)")
    p.add_argument("--batch-frames", type=count(0), default=256,
                   help="--api-overhead: frames for the batch measurement (default 256; 0 skips it)")
    p.set_defaults(func=run)


_SCALING = [METHOD, Column("tiles", lambda r: r["tile"] or None, ">7s"), Column("MP", "megapixels", "7.2f"),
            Column("MP/s", "mp_s", "8.2f"), Column("peak MB", "peak_mb", "8.1f"), Column("MB/MP", "mb_per_mp", "6.1f"),
            Column("I/O MB", "io_mb", "7.1f")]
_QUALITY = {"edges": [Column("ODS", "ods", "6.4f"), Column("OIS", "ois", "6.4f"), Column("AP", "ap", "6.4f")]}
_SPEED = [Column("MP/s", "mp_s", "9.2f"), Column("peak MB", "peak_mb", "8.1f")]


def table(task: str, rows: list[dict], scaling: bool = False) -> list[str]:
    """The printed report of bench rows."""
    if scaling:
        return render(rows, _SCALING) + linearity(rows)
    quality = _QUALITY.get(task, [Column("PSNR dB", "psnr_db", "8.3f")])
    return render(rows, [METHOD, SOURCE, *quality, *_SPEED])


def linearity(rows: list[dict]) -> list[str]:
    """Per method and tiling: seconds per megapixel and MB per megapixel, largest frame against smallest."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["mp_s"]:
            groups.setdefault((r["method"], r["tile"]), []).append(r)
    out = []
    for (method, tile), g in groups.items():
        g = sorted(g, key=lambda r: r["megapixels"])
        if len(g) > 1:
            small, big = g[0], g[-1]
            cost = small["mp_s"] / big["mp_s"]
            mem = "" if not (small["mb_per_mp"] and big["mb_per_mp"]) else \
                f", MB per MP x{big['mb_per_mp'] / small['mb_per_mp']:.2f}"
            out.append(f"{method} (tiles {tile or '-'}): {small['megapixels']:.3g} -> {big['megapixels']:.3g} MP: "
                       f"time per MP x{cost:.2f}{mem}")
    return out


def run(args) -> int:
    from .progress import Progress

    progress = Progress(0, enabled=False if getattr(args, "quiet", False) else None, unit="runs")
    if getattr(args, "api_overhead", False):
        return _run_api_overhead(args)
    try:
        if args.scaling:
            rows = suite.scaling(args.task, scale=args.scale, models=args.models, only=args.only, sizes=args.sizes,
                                  repeats=args.repeats, untiled_max_mp=args.untiled_max, progress=progress)
            notes = []
        elif args.images is None:
            raise CommandError(f"error: bench {args.task} needs --images DIR (or --scaling)")
        else:
            rows, notes = suite.bench(args.task, args.images, scale=args.scale, gt=args.gt, models=args.models,
                                       only=args.only, repeats=args.repeats, memory=not args.no_memory,
                                       progress=progress)
    except (FileNotFoundError, NotADirectoryError, ImportError) as exc:
        progress.close()
        raise CommandError(f"error: {exc}") from None
    progress.close()
    print("\n".join(table(args.task, rows, args.scaling)))
    for note in notes:
        print(f"note: {note}")
    write_json(rows, args.json)
    if args.plot:
        from ..bench import plot

        try:
            chart = plot.scaling_curves(rows, f"bench {args.task}") if args.scaling else \
                plot.quality_speed(rows, f"bench {args.task}: quality against speed")
            plot.save(chart, args.plot)
        except (ImgadaptError, OSError, ImportError) as exc:
            print(f"note: no chart written ({exc})")
    return OK


def _run_api_overhead(args) -> int:
    """``--api-overhead``: :mod:`imgadapt.bench.api_overhead` rows, printed (and written with ``--json``)."""
    from ..bench import api_overhead

    name = args.models[0] if args.models else None
    side = (args.api_megapixels * 1e6 / 6) ** 0.5
    shape = (max(2, int(side * 2) // 2 * 2), max(2, int(side * 3) // 2 * 2))
    try:
        rows = api_overhead.api_overhead(args.task, name, args.scale, shape=shape, repeats=args.repeats)
        if args.batch_frames:
            rows += api_overhead.batch_throughput(args.task, name, args.scale, frames=args.batch_frames,
                                                repeats=max(1, min(args.repeats, 3)))
    except (ImgadaptError, ImportError) as exc:
        raise CommandError(f"error: {exc}") from None
    print("\n".join(api_overhead.table(rows)))
    write_json(rows, args.json)
    return OK
