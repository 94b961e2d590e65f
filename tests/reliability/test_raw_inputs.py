"""Promise: RAW conversion fails one file with a reason, never a traceback, a black or NaN image, or a
lost batch summary: Ray errors on one file, broken colour matrices, absurd white balance, a CFA that
is not Bayer. The DNG files are written here (tests/_raw_files.py)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from imgadapt.raw import colour, convert
from imgadapt import cli, raw
from imgadapt.errors import CorruptRawError, InputValueError, UnsupportedRawError, WorkerError
from imgadapt._io import read_array
from tests._raw_files import write_tagged_dng

pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")

# A camera-like XYZ -> camera matrix (rows R, G, B), as in a DNG ColorMatrix1.
CAMERA_MATRIX = np.array([[0.90, -0.25, -0.08], [-0.40, 1.25, 0.12], [-0.05, 0.18, 0.62]])
LINEAR_RAW = {"wb": "none", "colorspace": "raw", "gamma": "linear", "exposure": 0}


def errors(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")


# --------------------------------------------------------------------------------------------
# Item 3: Ray errors on one file (out of memory, a crashed worker, a cancelled task) retry it once


class FakeRay:
    """Just enough of Ray for ``run_ray``, in this process: an actor is a ``RayConverter`` object,
    a call runs at once, and the files named in ``failures`` raise, attempt by attempt, the Ray
    errors a real cluster raises (``"ready"`` for the actors' start). A failed actor is dead."""

    def __init__(self, failures: dict[str, list]):
        import ray

        self.exceptions = ray.exceptions
        self.failures = {k: list(v) for k, v in failures.items()}
        self.started = 0
        self.killed: list[int] = []
        self.attempts: dict[str, list[int]] = {}  # file stem -> ids of the actors that ran it
        self.first_file: dict[int, str] = {}  # actor id -> the first file it was given

    def is_initialized(self):
        return True  # "this process has a Ray instance": run_ray neither starts nor stops one

    def cluster_resources(self):
        return {"CPU": 2.0}

    def remote(self, **options):
        fake = self

        def wrap(cls):
            class ActorClass:
                @staticmethod
                def remote(*args):
                    return FakeActor(fake, cls, args)
            return ActorClass
        return wrap

    def wait(self, refs, num_returns=1, timeout=None):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        if isinstance(ref, list):
            return [self.get(r) for r in ref]
        if isinstance(ref.value, BaseException):
            raise ref.value
        return ref.value

    def kill(self, actor):
        actor.dead = True
        self.killed.append(actor.id)

    def run(self, actor, key, call):
        if actor.init_error is not None:
            raise actor.init_error
        if actor.dead:
            raise self.exceptions.ActorDiedError()
        planned = self.failures.get(key)
        if planned:
            error = planned.pop(0)
            if error is not None:
                actor.dead = not isinstance(error, self.exceptions.RayTaskError)
                raise error
        return call()


class FakeRef:
    def __init__(self, fn, *args):
        try:
            self.value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - what the real ray.get would raise
            self.value = exc


class FakeActor:
    def __init__(self, fake: FakeRay, cls, args):
        fake.started += 1
        self.id, self.dead, self.fake, self.init_error = fake.started, False, fake, None
        try:
            self.instance = cls(*args)
        except Exception as exc:  # noqa: BLE001 - Ray reports it on the actor's calls
            self.init_error = fake.exceptions.ActorDiedError(task_error(exc))

    @property
    def ready(self):
        def call():
            return FakeRef(self.fake.run, self, "ready", lambda: self.instance.ready())
        return type("M", (), {"remote": lambda _: call()})()

    @property
    def convert(self):
        def call(job):
            stem = Path(job.src).stem
            self.fake.attempts.setdefault(stem, []).append(self.id)
            self.fake.first_file.setdefault(self.id, stem)
            return FakeRef(self.fake.run, self, stem, lambda: self.instance.convert(job))
        return type("M", (), {"remote": lambda _, job: call(job)})()


def oom():
    import ray

    return ray.exceptions.OutOfMemoryError(
        "Task was killed due to the node running low on memory.\nMemory on the node (IP: 10.0.0.1) was 22.4GB "
        "used / 23.5GB limit (0.95)\n" + "Top 10 memory users: ...\n" * 20)


def task_error(cause):
    import ray

    return ray.exceptions.RayTaskError("convert", "Traceback ...", cause, proctitle="ray::RayConverter", pid=1,
                                       ip="10.0.0.1")


def test_ray_errors_on_a_file_retry_it_once_on_a_fresh_actor_and_the_summary_prints(installed, tmp_path, dng,
                                                                                     monkeypatch, caplog):
    ray = pytest.importorskip("ray", reason="the Ray engine needs ray (dev or ray extra)")
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    names = ["a", "b", "oom_once", "oom_twice", "cancelled_once", "bug_twice", "c"]
    for k, name in enumerate(names):
        dng.write(src / f"{name}.dng", dng.scene(32, 48, seed=k), neutral=(0.5, 1, 0.7))
    fake = FakeRay({
        "ready": [oom()],  # the memory monitor kills one actor while it starts: it is replaced
        "oom_once": [oom()],
        "oom_twice": [oom(), ray.exceptions.WorkerCrashedError()],
        "cancelled_once": [ray.exceptions.TaskCancelledError(error_message="cancelled by the autoscaler")],
        "bug_twice": [task_error(RuntimeError("onnxruntime: bad alloc"))] * 2,
    })
    monkeypatch.setattr(convert, "import_ray", lambda: fake)
    caplog.set_level(logging.INFO, logger="imgadapt")
    assert cli.main(["convert", str(src), "-o", str(out), "--engine", "ray", "--workers", "2",
                     "--model", "demosaic/conv"]) == 1  # returns: no Ray error escapes

    text = errors(caplog)
    assert "5 converted, 0 skipped (output exists), 2 failed, of 7 files" in text  # the summary
    assert sorted(p.name for p in out.iterdir()) == [f"{n}.png" for n in sorted(set(names) - {"oom_twice",
                                                                                          "bug_twice"})]
    assert all(read_array(p).shape == (32, 48, 3) for p in out.iterdir())
    assert "oom_twice.dng: its Ray actor was lost twice, the second time a fresh one (WorkerCrashedError" in text
    assert "bug_twice.dng: internal error: RuntimeError('onnxruntime: bad alloc') (also when retried" in text
    assert "Top 10 memory users" not in caplog.text  # Ray's report is shortened to its first line
    assert "Traceback" not in caplog.text
    for name in ("oom_once", "oom_twice", "cancelled_once", "bug_twice"):
        first, second = fake.attempts[name]  # tried twice, the second time on a fresh actor
        assert first in fake.killed and fake.first_file[second] == name
    for name in ("a", "b", "c"):
        assert len(fake.attempts[name]) == 1


def test_ray_actors_that_never_start_stop_the_batch_with_a_reason(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="the Ray engine needs ray (dev or ray extra)")
    monkeypatch.setattr(convert, "load_model", lambda settings: "model")
    jobs = [convert.Job(i, str(tmp_path / f"{i}.dng"), str(tmp_path / f"{i}.png")) for i in range(3)]
    fake = FakeRay({"ready": [oom()] * 10})  # every actor is killed while it starts
    monkeypatch.setattr(convert, "import_ray", lambda: fake)
    last = r"OutOfMemoryError: Task was killed due to the node running low on memory\.$"
    with pytest.raises(WorkerError, match=r"lost before taking any work, 3 times in a row; the last: " + last):
        convert.run_ray(jobs, convert.Settings(model="fake"), 1, lambda r: None)
    assert fake.started == 3 and sorted(fake.killed) == [1, 2, 3]

    def cannot_load(settings):
        raise RuntimeError("no such model file")

    monkeypatch.setattr(convert, "load_model", cannot_load)
    with pytest.raises(WorkerError, match="could not load model 'fake'"):
        convert.run_ray(jobs, convert.Settings(model="fake"), 1, lambda r: None)


# --------------------------------------------------------------------------------------------
# Item 7: a zero, singular, ill-conditioned or non-finite camera matrix fails the file


BROKEN_MATRICES = {
    "zeros": np.zeros((3, 3)),
    "singular": np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.1, 0.5, 0.9]]),
    "zero-row": np.array([CAMERA_MATRIX[0], [0.0, 0.0, 0.0], CAMERA_MATRIX[2]]),
    "ill-conditioned": np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0000001], [0.2, 0.5, 0.9]]),
    "non-finite": [(1, 0)] * 9,  # every entry n/0: infinite
}


@pytest.mark.parametrize("kind", BROKEN_MATRICES)
def test_a_broken_colour_matrix_fails_the_file_with_a_reason(tmp_path, kind):
    path = tmp_path / f"{kind}.dng"
    write_tagged_dng(path, matrix=BROKEN_MATRICES[kind], neutral=(0.5, 1, 0.7), white=16383, shape=(32, 48))
    image = raw.read(path)  # the mosaic is still there ...
    assert image.camera_to_srgb is None and image.daylight_wb is None
    with pytest.raises(CorruptRawError, match=r"colour matrix .* cannot be used: expected a finite, invertible "
                                              r"3x3 matrix \(condition number up to 1000\), got (all zeros|a singular|"
                                              r"an ill-conditioned).*; use colorspace='raw'") as info:
        raw.develop(image, "demosaic/pafu-linear")  # ... but sRGB through that matrix is refused
    assert str(path) in str(info.value)
    out = raw.develop(image, "demosaic/pafu-linear", **LINEAR_RAW)  # camera RGB needs no matrix
    assert np.isfinite(out).all() and out.max() > 0.1


def test_a_zero_colour_matrix_fails_its_file_in_a_batch_instead_of_a_black_image(installed, tmp_path, dng, caplog):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    dng.write(src / "good.dng", dng.scene(32, 48), neutral=(0.5, 1, 0.7), matrix=CAMERA_MATRIX)
    dng.write(src / "zero.dng", dng.scene(32, 48), neutral=(0.5, 1, 0.7), matrix=np.zeros((3, 3)))
    assert cli.main(["convert", str(src), "-o", str(out), "--workers", "0", "--model", "demosaic/conv"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert "zero.dng: the colour matrix (ColorMatrix, as camera RGB -> sRGB) the file records cannot be used: " \
           "expected a finite, invertible 3x3 matrix (condition number up to 1000), got all zeros" in errors(caplog)


@pytest.mark.parametrize("matrix", [np.zeros((3, 3)), np.full((3, 3), np.nan), np.ones((3, 3)),
                                    np.diag([1.0, 1.0, 1e-9])])
def test_camera_matrices_are_checked_on_every_path(tmp_path, dng, matrix):
    # XYZ -> camera, as LibRaw reports it for non-DNG cameras.
    with pytest.raises(InputValueError, match="xyz_to_camera: expected a finite, invertible 3x3 matrix"):
        colour.camera_to_srgb(matrix)
    # A RawImage made by the caller.
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))
    image = raw.read(tmp_path / "a.dng")
    bad = raw.RawImage(image.mosaic, image.pattern, image.black_levels, image.white_level, camera_wb=(2, 1, 1.5),
                       camera_to_srgb=matrix, source="made")
    with pytest.raises(InputValueError, match=r"made: camera_to_srgb: expected a finite, invertible 3x3 matrix"):
        raw.develop(bad, "demosaic/pafu-linear")


# --------------------------------------------------------------------------------------------
# Item 8: white-balance multipliers finite, positive and within a factor of 1000


@pytest.mark.parametrize("wb", ["1e-300,1,1", "1e300,1,1", "nan,1,1", "inf,1,1", "0,1,1", "-1,1,1", "1,1,1001",
                                "2,1"])
def test_absurd_wb_is_a_usage_error_at_the_command_line(tmp_path, capsys, wb):
    with pytest.raises(SystemExit) as info:
        cli.main(["convert", str(tmp_path), "-o", str(tmp_path / "out"), f"--wb={wb}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert ("argument --wb: expected camera, daylight, none or three positive multipliers R,G,B, finite and "
            f"within a factor of 1000 of each other, got {wb!r}") in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("wb", [(1e300, 1, 1), (1e-300, 1, 1), (np.nan, 1, 1), (np.inf, 1, 1), (0, 1, 1),
                                (1, -1, 1), (1, 1, 1001), (2, 1)])
def test_absurd_wb_is_a_typed_error_in_the_api(tmp_path, dng, wb):
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))
    image = raw.read(tmp_path / "a.dng")
    with pytest.raises(InputValueError, match=r"wb: expected 3 positive multipliers \(R, G, B\), finite and "
                                              r"within a factor of 1000 of each other, got \(") as info:
        raw.develop(image, "demosaic/pafu-linear", wb=wb)
    assert isinstance(info.value, ValueError)


def test_wb_at_the_limit_still_develops(tmp_path, dng):
    dng.write(tmp_path / "a.dng", dng.scene(32, 48))
    out = raw.develop(raw.read(tmp_path / "a.dng"), "demosaic/pafu-linear", wb=(1000, 1, 1), gamma="linear")
    assert np.isfinite(out).all() and out[..., 2].mean() > 0.9  # red amplified to clipping, not NaN or black


@pytest.mark.parametrize("neutral, got", [((0.5, 0.0009, 0.5), r"\(0, 1111\.11, 2\)"),  # LibRaw: (0, 1111, 2)
                                          ((0.001, 1, 1), r"\(0, 1, 1\)")])
def test_absurd_as_shot_multipliers_fail_the_file_with_a_reason(installed, tmp_path, neutral, got, caplog):
    """Choice: the file's as-shot multipliers that are not finite, positive and within a factor of
    1000 fail the file under ``wb="camera"`` (no silent fallback to other colours); ``daylight``,
    ``none`` or given multipliers still develop it."""
    src = tmp_path / "in"
    src.mkdir()
    path = src / "wb.dng"
    write_tagged_dng(path, matrix=CAMERA_MATRIX, neutral=neutral, white=16383, shape=(32, 48))
    image = raw.read(path)
    assert image.camera_wb is None and "camera_wb" in image.unusable
    with pytest.raises(CorruptRawError, match=rf"wb\.dng: the as-shot white balance the file records cannot be "
                                              rf"used: expected 3 positive multipliers .* got {got}.*; use "
                                              r"wb='none', 'daylight' or multipliers"):
        raw.develop(image, "demosaic/conv")
    assert np.isfinite(raw.develop(image, "demosaic/conv", wb="daylight")).all()
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "out"), "--workers", "0",
                     "--model", "demosaic/conv"]) == 1
    assert "wb.dng: the as-shot white balance the file records cannot be used" in errors(caplog)
    assert not (tmp_path / "out" / "wb.png").exists()
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "out"), "--workers", "0", "--wb", "daylight",
                     "--model", "demosaic/conv"]) == 0


def test_a_record_of_no_as_shot_multipliers_is_not_an_error_of_the_file(tmp_path):
    write_tagged_dng(tmp_path / "none.dng", matrix=CAMERA_MATRIX, neutral=None, white=16383, shape=(32, 48))
    image = raw.read(tmp_path / "none.dng")
    assert image.camera_wb is None and "camera_wb" not in image.unusable
    with pytest.raises(InputValueError, match="white balance 'camera' asked, but the file records none"):
        raw.wb_multipliers(image, "camera")


# --------------------------------------------------------------------------------------------
# Item 15: a CFA that is not a Bayer 2x2 is named for what it holds


@pytest.mark.parametrize("cfa, colours", [((0, 0, 0, 0), "R,R,R,R"), ((2, 2, 2, 2), "B,B,B,B"),
                                          ((0, 0, 1, 2), "R,R,G,B"), ((1, 1, 2, 2), "G,G,B,B"),
                                          ((0, 1, 2, 1), "R,G,B,G")])
def test_a_cfa_that_is_not_bayer_is_reported_as_what_it_holds(tmp_path, cfa, colours):
    path = tmp_path / "odd.dng"
    write_tagged_dng(path, cfa=cfa, neutral=(1, 1, 1))
    with pytest.raises(UnsupportedRawError) as info:
        raw.read(path)
    assert str(info.value) == (f"{path}: the CFA pattern holds colours {colours}: expected one each of R and B and "
                               "two G on a diagonal of the 2x2 (RGGB, BGGR, GRBG or GBRG)")
    assert "four-colour" not in str(info.value)


@pytest.mark.parametrize("fields,error", [
    ({"mosaic": np.full((8, 8), np.nan, np.float32)}, "InputValueError"),
    ({"mosaic": np.zeros((8, 8), np.int32)}, "InputDtypeError"),
    ({"mosaic": np.zeros((8, 8, 3), np.uint16)}, "InputShapeError"),
    ({"mosaic": np.zeros((1, 8), np.uint16)}, "InputSizeError"),
    ({"pattern": "RGBG"}, "UnknownNameError"),
    ({"white_level": float("nan")}, "InputValueError"),
    ({"white_level": 70000.0}, "InputValueError"),
    ({"white_level": 100.0, "black_levels": (200.0, 0.0, 0.0, 0.0)}, "InputValueError"),
    ({"black_levels": (0.0, 0.0)}, "InputValueError"),
    ({"black_levels": (0.0, 0.0, float("inf"), 0.0)}, "InputValueError"),
])
def test_a_raw_image_made_by_hand_is_checked_before_developing(fields, error):
    import imgadapt
    from imgadapt.raw import RawImage, develop

    raw = RawImage(**{"mosaic": np.full((8, 8), 1000, np.uint16), "pattern": "RGGB", **fields})
    with pytest.raises(getattr(imgadapt, error)):
        develop(raw, wb="none", colorspace="raw")


def test_a_raw_image_made_by_hand_with_sane_levels_develops():
    from imgadapt.raw import RawImage, develop

    raw = RawImage(mosaic=np.full((8, 8), 0.25, np.float32), pattern="GRBG", white_level=0.5)
    out = develop(raw, wb="none", colorspace="raw", gamma="linear", exposure=0)
    assert out.shape == (8, 8, 3) and np.allclose(out, 0.5, atol=1e-3)
