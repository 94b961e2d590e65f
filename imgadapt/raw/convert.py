"""Batch RAW conversion: plan the outputs, then convert each file in worker processes or on Ray actors.

Every engine runs :func:`convert_file` with a model loaded once per worker, so they write the same
bytes. A failing file becomes a ``failed`` :class:`Result` with its reason and the batch goes on;
a worker that dies (a crash, the out-of-memory killer) fails the one file it held and is replaced.
Outputs are written atomically (a hidden temporary file in the output folder, then a rename).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2

from .._headers import check_pixels
from .._io import IMAGE_SUFFIXES, temp_files
from .._paths import reason, resolve_folder, resolve_input, show
from ..errors import ImgadaptError, InputValueError, WorkerError
from .develop import develop
from .image import MAX_PIXELS
from .read import read
from .write import write

log = logging.getLogger("imgadapt")

RAY_EXTRA = 'pip install "imgadapt[ray]"'
FORMATS = {"png": ".png", "tiff": ".tif"}
# What a single file may raise without stopping the batch.
FILE_ERRORS = (ImgadaptError, OSError, ValueError, TypeError, ImportError, MemoryError, cv2.error)


@dataclass(frozen=True)
class Settings:
    """How every file of a batch is developed and written (the same on every worker)."""

    model: str
    wb: str | tuple[float, float, float] = "camera"
    colorspace: str = "srgb"
    gamma: str = "srgb"
    exposure: str | float = "auto"
    highlights: str = "clip"
    metadata: bool = True  # the camera's EXIF in the outputs (the ICC profile is always written)
    fmt: str = "png"
    bits: int = 16
    pattern: str | None = None
    white_level: float | None = None
    max_pixels: int = MAX_PIXELS
    threads: int = 1
    providers: tuple[str, ...] | None = None

    @property
    def suffix(self) -> str:
        return FORMATS[self.fmt]


@dataclass(frozen=True)
class Job:
    index: int
    src: str
    dst: str


@dataclass(frozen=True)
class Result:
    """What became of one input: ``converted``, ``skipped`` (its output exists) or ``failed``."""

    index: int
    src: str
    dst: str
    status: str
    message: str = ""
    seconds: float = 0.0
    megapixels: float = 0.0


# --------------------------------------------------------------------------------------------
# Planning


def output_name(src: Path, suffix: str) -> str:
    """The output file name for ``src``: its stem plus ``suffix``, always one plain, visible name
    (leading dots and path separators are dropped, so it can neither hide nor leave the folder)."""
    stem = src.stem.replace("/", "_").replace("\\", "_").replace("\x00", "_").lstrip(". ")
    return (stem or "unnamed") + suffix


def collision_key(name: str) -> str:
    """Two output names with the same key may be one file: on case-insensitive file systems
    (macOS, Windows) and where Unicode names are normalised. Such names count as a collision."""
    return unicodedata.normalize("NFC", name).casefold()


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_outdir(outdir: Path, out_resolved: Path, inputs: list[tuple[Path, Path | None]]) -> None:
    """Refuse an output folder that lists an input, by the name given or after its links (compared
    as files too, which catches another spelling of the folder on a case-insensitive file system)."""
    out_id = _file_id(out_resolved)
    ids: dict[Path, tuple[int, int] | None] = {}
    for src, resolved in inputs:
        if resolved is None:
            continue
        for folder in (resolved.parent, Path(os.path.realpath(src.absolute().parent))):
            if folder not in ids:
                ids[folder] = _file_id(folder)
            if folder == out_resolved or (out_id is not None and ids[folder] == out_id):
                raise InputValueError(f"output folder {outdir} holds the input {src}; the input folder is never "
                                      "written to, choose another output folder")


def plan(files: Iterable[Path], outdir: Path, suffix: str, overwrite: bool = False,
         max_pixels: int | None = None) -> tuple[list[Job], list[Result]]:
    """Jobs for the files to convert and results for those settled already (skipped or refused),
    decided for every file before anything is written.

    Refuses (``InputValueError``) an output folder that holds inputs (the input folder is never
    written to), that is a file, a symbolic link loop or a broken link. An input that is missing,
    a link loop or not a regular file fails. Duplicate inputs are dropped; two inputs whose output
    names collide (ignoring case, see :func:`collision_key`) fail the later one; an output name
    taken by a folder fails. With ``max_pixels``, an image file (TIFF, PNG, NPY, ...) whose header
    declares more pixels fails without being decoded. Temporary files that an interrupted run left
    for these outputs are removed.
    """
    outdir = Path(outdir)
    out_resolved = resolve_folder(outdir)
    inputs: list[tuple[Path, Path | None]] = []
    problems: dict[int, str] = {}
    for i, src in enumerate(Path(f) for f in files):
        try:
            inputs.append((src, resolve_input(src)))
        except (ImgadaptError, OSError) as exc:
            inputs.append((src, None))
            problems[i] = reason(exc, src)
    _check_outdir(outdir, out_resolved, inputs)
    jobs: list[Job] = []
    settled: list[Result] = []
    seen_src: set[Path] = set()
    taken: dict[str, Path] = {}
    index = 0
    for i, (src, resolved) in enumerate(inputs):
        if resolved in seen_src:
            continue
        dst = outdir / output_name(src, suffix)
        if Path(os.path.normpath(out_resolved / dst.name)).parent != out_resolved:  # belt and braces
            raise InputValueError(f"{src}: output {dst} would leave the output folder {outdir}")
        failed = problems.get(i)
        if resolved is not None:
            seen_src.add(resolved)
            key = collision_key(dst.name)
            if key in taken:
                failed = f"its output {dst.name} is also the output of {show(taken[key])}; rename one of them"
            else:
                taken[key] = src
        if failed is None:
            for stale in temp_files(dst):
                try:
                    stale.unlink(missing_ok=True)
                except OSError:  # left for the next run; the new output gets a fresh temporary name
                    pass
            if dst.is_dir() and not dst.is_symlink():
                failed = f"its output {dst.name} is taken by a folder"
            elif os.path.lexists(dst) and not overwrite:
                settled.append(Result(index, str(src), str(dst), "skipped", "output exists"))
                index += 1
                continue
        if failed is None and max_pixels is not None and src.suffix.lower() in IMAGE_SUFFIXES:
            try:
                check_pixels(src, max_pixels)
            except (ImgadaptError, OSError) as exc:
                failed = reason(exc, src)
        if failed is None:
            jobs.append(Job(index, str(src), str(dst)))
        else:
            settled.append(Result(index, str(src), str(dst), "failed", failed))
        index += 1
    return jobs, settled


# --------------------------------------------------------------------------------------------
# One file


def load_model(settings: Settings):
    from .._model import load

    return load(settings.model, task="demosaic", threads=settings.threads,
                providers=list(settings.providers) if settings.providers else None)


@contextmanager
def _c_stderr(lines: list[str]):
    """Collect what C code (LibRaw) prints on file descriptor 2 meanwhile into ``lines``, so that
    it joins the file's error message instead of breaking up the progress display."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += sink.read(4096).decode(errors="replace").splitlines()


def convert_file(job: Job, model, settings: Settings) -> Result:
    """Read, develop and write one file; per-file errors become a ``failed`` result."""
    start = time.perf_counter()
    libraw_said: list[str] = []
    try:
        with _c_stderr(libraw_said):
            image = read(job.src, pattern=settings.pattern, white_level=settings.white_level,
                              max_pixels=settings.max_pixels)
        out = develop(image, model, wb=settings.wb, colorspace=settings.colorspace, gamma=settings.gamma,
                           exposure=settings.exposure, highlights=settings.highlights,
                           dtype="uint16" if settings.bits == 16 else "uint8")
        write(job.dst, out, image, colorspace=settings.colorspace, gamma=settings.gamma,
                   exif=settings.metadata)
    except FILE_ERRORS as exc:
        message = str(exc)
        if message.startswith(f"{job.src}: "):
            message = message[len(job.src) + 2:]
        said = "; ".join(line.removeprefix(f"{job.src}: ").strip() for line in libraw_said if line.strip())
        if said:
            message += f" [LibRaw said: {said[:300]}]"
        return Result(job.index, job.src, job.dst, "failed", message or type(exc).__name__,
                      time.perf_counter() - start)
    return Result(job.index, job.src, job.dst, "converted", "", time.perf_counter() - start, image.megapixels)


def _died(job: Job, what: str) -> Result:
    return Result(job.index, job.src, job.dst, "failed",
                  f"{what} while converting it (a crash in the decoder, or out of memory); its output was not written")


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_inprocess(jobs: list[Job], settings: Settings, on_result: Callable[[Result], None]) -> None:
    """Convert in this process, one file after another (no isolation from crashes)."""
    model = load_model(settings)
    for job in jobs:
        on_result(convert_file(job, model, settings))


# --------------------------------------------------------------------------------------------
# Local worker processes


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the parent process dies, so a killed batch leaves no worker running."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _worker_main(conn, settings: Settings, parent_pid: int) -> None:
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, so write_array removes its temp file
    try:
        model = load_model(settings)
    except Exception as exc:  # noqa: BLE001 - any failure to load is reported to the parent, which stops the batch
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            result = convert_file(job, model, settings)
        except Exception as exc:  # an unexpected error fails this file, not the batch
            log.debug("internal error on %s", job.src, exc_info=True)
            result = Result(job.index, job.src, job.dst, "failed", f"internal error: {type(exc).__name__}: {exc}")
        conn.send(("done", result))


class _Worker:
    def __init__(self, ctx, settings: Settings):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, settings, os.getpid()), daemon=True,
                                   name="imgadapt-convert")
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0
        self.ready = False

    def stop(self, timeout: float) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _wait_for(busy_since: list[float], timeout: float | None) -> float | None:
    """How long to wait for the next event: until the earliest running file reaches ``timeout``."""
    if timeout is None or not busy_since:
        return None
    return max(0.0, min(busy_since) + timeout - time.monotonic())


def _overdue(job: Job, timeout: float) -> Result:
    return Result(job.index, job.src, job.dst, "failed",
                  f"took longer than the per-file limit of {timeout:g} s; its worker was stopped and the output "
                  "not written")


def run_local(jobs: list[Job], settings: Settings, workers: int, on_result: Callable[[Result], None],
              start_method: str = "spawn", timeout: float | None = None) -> None:
    """Convert on ``workers`` processes, each holding one model session and one file at a time.

    A file that takes longer than ``timeout`` seconds fails and its worker is replaced.

    Raises:
        WorkerError: a worker cannot load the model, or workers keep dying before taking work.
    """
    if not jobs:
        return
    ctx = mp.get_context(start_method)
    queue = deque(jobs)
    pool = [_Worker(ctx, settings) for _ in range(min(workers, len(jobs)))]
    startup_deaths = 0
    try:
        while queue or any(w.job is not None for w in pool):
            mp.connection.wait([w.conn for w in pool] + [w.process.sentinel for w in pool],
                               timeout=_wait_for([w.started for w in pool if w.job is not None], timeout))
            for w in list(pool):
                message = None
                if w.conn.poll():
                    try:
                        message = w.conn.recv()
                    except EOFError:
                        message = None
                overdue = (message is None and w.job is not None and timeout is not None
                           and time.monotonic() - w.started > timeout)
                if overdue:
                    w.process.kill()
                if message is None and w.process.is_alive():
                    continue
                if message is None:  # the process is gone
                    w.process.join()
                    pool.remove(w)
                    w.conn.close()
                    what = f"the worker process died ({_exit_text(w.process.exitcode)})"
                    if w.job is not None:
                        on_result(_overdue(w.job, timeout) if overdue else _died(w.job, what))
                    elif not w.ready:
                        startup_deaths += 1
                        if startup_deaths >= 3:
                            raise WorkerError(f"{what} before taking any work, {startup_deaths} times in a row")
                    if queue:
                        pool.append(_Worker(ctx, settings))
                    continue
                kind, payload = message
                if kind == "fatal":
                    raise WorkerError(f"a worker could not load model {settings.model!r}: {payload}")
                if kind == "ready":
                    w.ready = True
                    startup_deaths = 0
                elif kind == "done":
                    w.job = None
                    on_result(payload)
                if w.job is None and queue:
                    w.job = queue.popleft()
                    w.started = time.monotonic()
                    w.conn.send(w.job)
            if not pool and queue:
                pool.append(_Worker(ctx, settings))
    finally:
        for w in pool:
            w.stop(timeout=0.5 if w.job is not None else 10)


# --------------------------------------------------------------------------------------------
# Ray


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"--engine ray needs Ray: {RAY_EXTRA}") from exc
    return ray


class RayConverter:
    """A Ray actor's state: one model session; converts files from storage every node sees."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = load_model(settings)

    def ready(self) -> str:
        return self.model.name

    def convert(self, job: Job) -> Result:
        return convert_file(job, self.model, self.settings)


def _ray_reason(exc: BaseException) -> str:
    """A Ray error in one line: its type and the first line of its message (Ray's out-of-memory
    report runs to dozens of lines)."""
    lines = str(exc).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _kill_actor(ray, actor) -> None:
    try:
        ray.kill(actor)
    except Exception:  # noqa: BLE001 - an actor that is gone already, or a cluster that is; nothing to stop
        log.debug("could not kill a Ray actor", exc_info=True)


def _init_failed(ray, exc: BaseException) -> bool:
    """Whether an actor's constructor raised (the model cannot load: the same on every actor),
    rather than the actor being killed or lost (out of memory, a crash, a node gone)."""
    return (isinstance(exc, ray.exceptions.RayTaskError)
            or (isinstance(exc, ray.exceptions.RayActorError) and bool(getattr(exc, "actor_init_failed", False))))


def run_ray(jobs: list[Job], settings: Settings, workers: int | None, on_result: Callable[[Result], None],
            address: str | None = None, timeout: float | None = None) -> None:
    """Convert on Ray actors, each holding one onnxruntime session and one file at a time.

    Uses the running Ray instance if this process has one, else connects to ``address`` (or
    ``RAY_ADDRESS``, or starts a local instance) and shuts it down at the end. Input and output
    paths must be on storage every node sees.

    Any Ray error on one file (its actor died or was killed by Ray's memory monitor, its worker
    crashed, its task was cancelled or raised) stops that actor and retries the file once on a fresh
    one; a second error fails the file with the reason, and the batch goes on. An actor lost before
    taking work is replaced, up to 3 times in a row; a file over ``timeout`` fails without a retry.
    Should the cluster itself fail, every file not finished fails with the reason.

    Raises:
        WorkerError: an actor cannot load the model, or no actor survives its start.
    """
    if not jobs:
        return
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    actors: list = []  # live actors
    pending: dict = {}  # object ref -> (actor, job or None for a ready() call, start time)
    queue = deque(jobs)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        most = max(1, cpus // settings.threads)
        if workers is not None and workers > most:
            log.warning("the Ray cluster has %d CPUs: %d actors of %d thread(s) each, not %d", cpus, most,
                        settings.threads, workers)
        n = min(workers or most, most, len(jobs))
        actor_class = ray.remote(num_cpus=settings.threads, max_restarts=0)(RayConverter)

        def start_actor(check: bool):
            actor = actor_class.remote(settings)
            actors.append(actor)
            if check:
                pending[actor.ready.remote()] = (actor, None, None)
            return actor

        def drop(actor) -> None:
            actors.remove(actor)
            _kill_actor(ray, actor)

        def submit(actor) -> None:
            job = queue.popleft()
            pending[actor.convert.remote(job)] = (actor, job, time.monotonic())

        retried: set[int] = set()
        startup_losses = 0
        try:
            for _ in range(n):
                start_actor(check=True)
            while pending:
                busy = [t for _, job, t in pending.values() if job is not None]
                done, _ = ray.wait(list(pending), num_returns=1, timeout=_wait_for(busy, timeout))
                if not done:  # a file reached the time limit
                    ref = min((r for r in pending if pending[r][1] is not None), key=lambda r: pending[r][2])
                    actor, job, _ = pending.pop(ref)
                    drop(actor)
                    on_result(_overdue(job, timeout))
                    if queue:
                        submit(start_actor(check=False))
                    continue
                actor, job, _ = pending.pop(done[0])
                try:
                    value = ray.get(done[0])
                except ray.exceptions.RayError as exc:
                    reason = _ray_reason(exc)
                    if job is None:  # the actor's start
                        if _init_failed(ray, exc):
                            raise WorkerError(f"a Ray actor could not load model {settings.model!r}: "
                                              f"{reason}") from None
                        startup_losses += 1
                        drop(actor)
                        if startup_losses < 3:
                            log.warning("a Ray actor was lost while starting (%s); starting another", reason)
                            start_actor(check=True)
                        elif not actors:
                            raise WorkerError(f"Ray actors were lost before taking any work, {startup_losses} times "
                                              f"in a row; the last: {reason}") from None
                        else:
                            log.warning("a Ray actor was lost while starting (%s); going on with %d", reason,
                                        len(actors))
                        continue
                    drop(actor)
                    actor = None
                    if job.index not in retried:
                        retried.add(job.index)
                        queue.appendleft(job)
                        log.warning("%s: its Ray actor was lost (%s); retrying it on a fresh actor", job.src, reason)
                    elif isinstance(exc, ray.exceptions.RayTaskError):
                        on_result(Result(job.index, job.src, job.dst, "failed",
                                         f"internal error: {exc.cause!r} (also when retried on a fresh Ray actor)"))
                    else:
                        on_result(Result(job.index, job.src, job.dst, "failed",
                                         f"its Ray actor was lost twice, the second time a fresh one ({reason}); "
                                         "its output was not written"))
                    if queue:
                        actor = start_actor(check=False)
                else:
                    if job is None:
                        startup_losses = 0
                    else:
                        on_result(value)
                if actor is not None and queue:
                    submit(actor)
        except ray.exceptions.RayError as exc:  # the cluster itself (ray.wait, starting an actor)
            reason = _ray_reason(exc)
            log.error("the Ray cluster failed (%s); the files not finished fail", reason)
            unfinished = [job for _, job, _ in pending.values() if job is not None] + list(queue)
            pending.clear()
            queue.clear()
            for job in sorted(unfinished, key=lambda j: j.index):
                on_result(Result(job.index, job.src, job.dst, "failed",
                                 f"not converted: the Ray cluster failed ({reason})"))
        for job in queue:  # not expected: every lost actor with work left is replaced
            on_result(Result(job.index, job.src, job.dst, "failed", "not converted: no Ray actor was left to take it"))
    finally:
        for actor in actors:
            _kill_actor(ray, actor)
        if started:
            ray.shutdown()
