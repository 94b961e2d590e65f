"""The ``imgadapt`` command line."""
from __future__ import annotations

import argparse
import glob
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from . import __version__, _bayer
from ._errors import ImgadaptError
from ._io import IMAGE_SUFFIXES, read_array, write_array

log = logging.getLogger("imgadapt")


def _expand_inputs(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        elif any(ch in item for ch in "*?["):
            files += sorted(Path(f) for f in glob.glob(item) if Path(f).is_file())
        else:
            files.append(p)
    return files


def _output_path(src: Path, out: Path, n_inputs: int, suffix: str) -> Path:
    if n_inputs == 1 and out.suffix.lower() in IMAGE_SUFFIXES:
        return out
    return out / (src.stem + suffix)


def _run_batch(args, process) -> int:
    """Process every input; report failures by name and go on. Exit status 1 if any failed."""
    from . import load

    model = load(args.model, task=args.task, threads=args.threads,
                 providers=["cpu"] if args.cpu else None)
    files = _expand_inputs(args.inputs)
    if not files:
        log.error("no input files matched %s", " ".join(args.inputs))
        return 1
    out = Path(args.output)
    failed = 0
    start = time.perf_counter()
    destinations = [_output_path(src, out, len(files), args.suffix) for src in files]
    seen: dict[Path, Path] = {}
    for i, (src, dst) in enumerate(zip(files, destinations), 1):
        try:
            if dst in seen:
                raise ValueError(f"output {dst} would also be written from {seen[dst]}; rename one input")
            seen[dst] = src
            if dst.exists() and not args.overwrite:
                raise FileExistsError(f"{dst} exists (pass --overwrite to replace it)")
            if dst.resolve() == src.resolve():
                raise ValueError("output would replace the input")
            write_array(dst, process(model, read_array(src)))
            log.info("[%d/%d] %s -> %s", i, len(files), src, dst)
        except (ImgadaptError, OSError, ValueError, TypeError, cv2.error) as exc:
            failed += 1
            log.error("[%d/%d] %s: %s", i, len(files), src, exc)
    log.info("%d of %d converted in %.1f s with %s", len(files) - failed, len(files),
             time.perf_counter() - start, model.name)
    return 1 if failed else 0


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

    images = _evaluate.load_images(args.images)
    models = args.models or list_models("demosaic")
    methods = _evaluate.demosaic_methods(models, peers=not args.no_peers, denoise_peers=args.noise is not None and not args.no_peers)
    rows = _evaluate.evaluate_demosaic(images, methods, crop=args.crop, repeats=args.repeats, noise=args.noise)
    print(f"{'method':28s} {'source':20s} {'PSNR dB':>8s} {'MP/s':>9s}")
    for r in sorted(rows, key=lambda r: -r["psnr_db"]):
        print(f"{r['method']:28s} {r['source']:20s} {r['psnr_db']:8.3f} {r['mp_s']:9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


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
    p.add_argument("--suffix", default=suffix, help=f"output name suffix in a folder (default {suffix})")
    p.set_defaults(task=task)


def _train(argv: list[str]) -> int:
    """``imgadapt train ...`` runs the torch side of a source checkout (``export.train_cli``)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "export" / "__init__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from export.train_cli import main as train_main
    except ImportError as exc:
        log.error("'imgadapt train' runs from a source checkout with the train extra "
                  "(pip install -e \".[cpu,train]\"): %s", exc)
        return 2
    return int(train_main(argv) or 0)


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

    p = sub.add_parser("eval", help="quality and speed of models next to the peers, in one run")
    p.add_argument("task", choices=["demosaic"])
    p.add_argument("--images", required=True, help="folder of clean colour images (ground truth)")
    p.add_argument("--models", nargs="*", default=None, help="models to measure (default: all of the task)")
    p.add_argument("--no-peers", action="store_true", help="skip the peers")
    p.add_argument("--crop", type=int, default=8, help="border excluded from PSNR (default 8)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per method (median)")
    p.add_argument("--json", default=None, help="write the rows as JSON")
    p.add_argument("--noise", type=_noise_pair, default=None, metavar="A,B",
                   help="add sensor noise of variance A*x+B to the mosaics (and measure denoising peers)")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("train", help="train, export and measure a model (source checkout, train extra); "
                                      "'imgadapt train --help' lists its options")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return _train(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except ImgadaptError as exc:
        log.error("error: %s", exc)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
