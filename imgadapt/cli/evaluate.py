"""``imgadapt eval TASK``: quality and speed of the models next to the peers, in one run."""
from __future__ import annotations

from ..bayer import PATTERNS
from ..bench.table import METHOD, SOURCE, Column, render, write_json
from .args import count, noise_pair
from .status import OK, CommandError, usage_error

TASKS = ("demosaic", "raw", "sr", "edges")


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="quality and speed of models next to the peers, in one run")
    p.add_argument("task", choices=TASKS,
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
    p.add_argument("--pattern", default="RGGB", type=str.upper, choices=PATTERNS,
                   help="demosaic: the Bayer pattern the images are mosaicked with (default RGGB)")
    p.add_argument("--noise", type=noise_pair, default=None, metavar="A,B",
                   help="add sensor noise of variance A*x+B to the mosaics (and measure denoising peers)")
    p.add_argument("--linearize", action="store_true", help="raw: decode the images from sRGB to linear light first")
    p.add_argument("--workers", type=count(1), default=None, help="raw: worker processes of the batch (default: CPUs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import list_models
    from ..bench import demosaic_eval, raw_eval
    from ..bench.evaluate import load_images

    if args.task == "edges":
        return _edges(args)
    try:
        images = load_images(args.images)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise usage_error(exc) from None
    if args.task == "sr":
        return _sr(args, images)
    if args.task == "raw":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="imgadapt-eval-raw-") as workdir:
            rows = raw_eval.evaluate_raw(images, workdir, model=(args.models or [None])[0], linearize=args.linearize,
                                         repeats=args.repeats, workers=args.workers)
        return _report(rows, [Column("method", "method", "48s"), Column("source", "source", "26s"), PSNR,
                              Column("MP/s", "mp_s", "7.2f")], args.json, sort=False)
    models = args.models or list_models("demosaic")
    methods = demosaic_eval.demosaic_methods(models, peers=not args.no_peers,
                                        denoise_peers=args.noise is not None and not args.no_peers)
    crop = 8 if args.crop is None else args.crop
    rows = demosaic_eval.evaluate_demosaic(images, methods, pattern=args.pattern, crop=crop, repeats=args.repeats,
                                      noise=args.noise)
    return _report(rows, [METHOD, SOURCE, PSNR, MP_S], args.json)


PSNR, MP_S = Column("PSNR dB", "psnr_db", "8.3f"), Column("MP/s", "mp_s", "9.2f")


def _report(rows: list[dict], columns: list[Column], json_path: str | None, sort: bool = True) -> int:
    """Print an evaluation table (best PSNR first unless ``sort`` is off) and write the rows as JSON."""
    print("\n".join(render(sorted(rows, key=lambda r: -r["psnr_db"]) if sort else rows, columns)))
    write_json(rows, json_path)
    return OK


def _sr(args, images) -> int:
    """``imgadapt eval sr``: Y-PSNR and output MP/s of the sr models for ``--scale`` and the OpenCV peers."""
    from ..bench import sr_eval

    if args.scale is None:
        raise CommandError("error: eval sr needs --scale (2 to 8)")
    methods = sr_eval.sr_methods(args.scale, models=args.models or None, peers=not args.no_peers,
                                  ensemble=args.ensemble)
    if not methods:
        raise CommandError(f"error: nothing to measure: no sr model for x{args.scale} is installed and --no-peers "
                           f"was given")
    rows = sr_eval.evaluate_sr(images, args.scale, methods, crop=args.crop, repeats=args.repeats)
    return _report(rows, [METHOD, SOURCE, Column("scale", lambda r: "x" + str(r["scale"]), ">5s"),
                          Column("Y-PSNR dB", "psnr_db", "9.3f"), Column("MP/s out", "mp_s", "9.2f")], args.json)


def _edges(args) -> int:
    """``imgadapt eval edges``: BSDS-style ODS/OIS/AP and input MP/s of the edges models and OpenCV peers."""
    from ..bench import edges_eval
    from ..bench.boundary_io import load_edge_dataset

    if args.gt is None:
        raise CommandError("error: eval edges needs --gt DIR (NAME.png, NAME_0.png NAME_1.png ..., or NAME.mat "
                           "per image)")
    try:
        dataset = load_edge_dataset(args.images, args.gt)
        methods = edges_eval.edge_methods(args.models or None, peers=not args.no_peers)
        if not methods:
            raise CommandError("error: nothing to measure: no edges model is installed and --no-peers was given")
        rows = edges_eval.evaluate_edges(dataset, methods, repeats=args.repeats)
    except (FileNotFoundError, NotADirectoryError, ImportError) as exc:
        raise usage_error(exc) from None
    rows.sort(key=lambda r: -r["ods"])
    return _report(rows, [Column("method", "method", "24s"), Column("source", "source", "16s"),
                          Column("ODS", "ods", "6.4f"), Column("OIS", "ois", "6.4f"), Column("AP", "ap", "6.4f"),
                          Column("ODS at", "ods_at", ">12s"), MP_S], args.json, sort=False)
