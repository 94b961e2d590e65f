"""The image-to-image batch commands (``demosaic``, ``upscale``, ``edges``).

Every output is planned before anything is written (:func:`imgadapt.raw.convert.plan` for an output
folder, :func:`plan_one` for one output file): an output folder that holds inputs is a usage error,
colliding output names and inputs that are missing, link loops or over the pixel limit fail by
name. Then each file is read (its header checked before decoding), processed and written
atomically; a failing file is reported with its reason and the batch goes on.
"""
from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ImgadaptError, InputValueError
from .._headers import check_pixels
from .._io import IMAGE_SUFFIXES, read_array, write_array
from .._paths import reason, resolve_folder, resolve_input, show
from ..raw import convert
from .args import max_pixels as args_max_pixels
from .status import FAILED, OK

log = logging.getLogger("imgadapt")


def _listed(entry: Path) -> bool:
    """Files, and links that do not lead to a folder (a broken link or a loop fails by name later)."""
    return entry.is_file() or (entry.is_symlink() and not entry.is_dir())


def expand_inputs(inputs: list[str], suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """Files named, the files of folders whose suffix is in ``suffixes`` (hidden ones skipped), and
    glob matches. A name that exists is taken as it is, even with ``*?[`` in it.

    Raises:
        ImgadaptError (InputValueError): a folder cannot be listed.
    """
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            try:
                entries = list(p.iterdir())
            except OSError as exc:
                raise InputValueError(f"input folder {item}: cannot be listed ({reason(exc, item)})") from None
            files += sorted(f for f in entries
                            if f.suffix.lower() in suffixes and not f.name.startswith(".") and _listed(f))
        elif not os.path.lexists(item) and any(ch in item for ch in "*?["):
            files += sorted(Path(f) for f in glob.glob(item) if _listed(Path(f)))
        else:
            files.append(p)
    return files


def plan_one(src: Path, dst: Path, overwrite: bool, max_pixels: int
             ) -> tuple[list[convert.Job], list[convert.Result]]:
    """The plan for one input written to the file ``dst``.

    Raises:
        InputValueError: the folder of ``dst`` is a file, a symbolic link loop or a broken link.
    """
    resolve_folder(dst.parent, "the folder of the output")

    def failed(message: str):
        return [], [convert.Result(0, str(src), str(dst), "failed", message)]
    try:
        resolved = resolve_input(src)
        if os.path.lexists(dst):
            if os.path.exists(dst) and os.path.samefile(dst, resolved):
                return failed(f"its output {show(dst)} is the input itself; name another output file")
            if not overwrite:
                return failed(f"its output {show(dst)} exists (pass --overwrite to replace it)")
        check_pixels(src, max_pixels)
    except (ImgadaptError, OSError) as exc:
        return failed(reason(exc, src))
    return [convert.Job(0, str(src), str(dst))], []


def run(args, process: Callable) -> int:
    """Plan, load the model, then process file by file. Exit status :data:`~.status.OK` when every
    file was processed, :data:`~.status.FAILED` when any failed."""
    from .._model import load

    max_pixels = args_max_pixels(args)
    files = expand_inputs(args.inputs)
    if not files:
        log.error("no input files matched %s", " ".join(show(item) for item in args.inputs))
        return FAILED
    out = Path(args.output)
    if len(files) == 1 and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        jobs, settled = plan_one(files[0], out, args.overwrite, max_pixels)
    else:
        jobs, settled = convert.plan(files, out, args.suffix, overwrite=args.overwrite, max_pixels=max_pixels)
    model = load(args.model, task=args.task, threads=args.threads, providers=["cpu"] if args.cpu else None)
    total, done, failed = len(jobs) + len(settled), 0, 0
    start = time.perf_counter()
    for result in settled:
        done += 1
        failed += 1
        message = result.message
        if result.status == "skipped":
            message = f"its output {show(result.dst)} exists (pass --overwrite to replace it)"
        log.error("[%d/%d] %s: %s", done, total, show(result.src), show(message))
    for job in jobs:
        done += 1
        try:
            write_array(job.dst, process(model, read_array(job.src, max_pixels)))
        except convert.FILE_ERRORS as exc:
            failed += 1
            log.error("[%d/%d] %s: %s", done, total, show(job.src), reason(exc, job.src))
            continue
        log.info("[%d/%d] %s -> %s", done, total, show(job.src), show(job.dst))
    log.info("%d of %d converted in %.1f s with %s", total - failed, total, time.perf_counter() - start, model.name)
    return FAILED if failed else OK
