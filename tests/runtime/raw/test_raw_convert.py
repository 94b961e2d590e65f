"""``imgadapt convert``: a batch of DNG files written in the test, with corrupt and unsupported ones;
atomic outputs, resuming, a run killed mid-way, worker crashes, the progress bar."""
import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imgadapt.raw import convert
from imgadapt import cli, raw
from imgadapt.errors import WorkerError
from imgadapt._io import read_array, write_array
from imgadapt.cli.progress import Progress

pytest.importorskip("rawpy", reason="camera RAW files are read with rawpy (raw extra)")

LINEAR = ["--wb", "none", "--colorspace", "raw", "--gamma", "linear", "--exposure", "0"]


def snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def workers_see_models(installed, monkeypatch):
    """The fixture models, for this process and for the worker processes it starts."""
    monkeypatch.setenv("IMGADAPT_MODEL_PATH", str(installed))
    return installed


@pytest.fixture
def mixed(tmp_path, dng):
    """A folder of two good DNGs, a truncated one, a text file named .nef, an X-Trans DNG, and
    files a folder scan leaves alone (a JPEG preview, a hidden AppleDouble file)."""
    src = tmp_path / "in"
    src.mkdir()
    dng.write(src / "good1.dng", dng.scene(40, 60, seed=1), "RGGB", black=512, white=16383, neutral=(0.5, 1, 0.7))
    dng.write(src / "good2.dng", dng.scene(40, 60, seed=2), "GBRG", black=(60, 64, 64, 68), white=4095,
              orientation=6)
    data = (src / "good1.dng").read_bytes()
    (src / "corrupt.dng").write_bytes(data[: len(data) // 3])
    (src / "notes.nef").write_text("not a raw file\n")
    dng.write_odd(src / "xtrans.dng", "xtrans")
    write_array(src / "preview.jpg", np.zeros((8, 8, 3), np.uint8))
    (src / "._good1.dng").write_bytes(b"\x00\x05\x16\x07")
    return src


def test_mixed_folder_converts_good_files_and_names_the_rest(workers_see_models, mixed, tmp_path, caplog):
    before = snapshot(mixed)
    out = tmp_path / "out"
    assert cli.main(["convert", str(mixed), "-o", str(out), "--workers", "1"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["good1.png", "good2.png"]
    good1, good2 = read_array(out / "good1.png"), read_array(out / "good2.png")
    assert good1.shape == (40, 60, 3) and good1.dtype == np.uint16
    assert good2.shape == (60, 40, 3)  # orientation 6: turned 90 degrees clockwise
    assert snapshot(mixed) == before  # the input folder is never written to
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    text = "\n".join(errors)
    assert "corrupt.dng: the RAW data cannot be decoded" in text and "truncated or corrupt" in text
    assert "notes.nef: expected a camera RAW file LibRaw reads, but it is text" in text
    assert "xtrans.dng: expected a 2x2 Bayer pattern, got a X-Trans 6x6" in text
    assert "preview.jpg" not in text and "._good1" not in text
    assert "2 converted, 0 skipped (output exists), 3 failed, of 5 files" in text


def test_linear_16_bit_output_is_what_develop_returns(installed, tmp_path, dng):
    src = tmp_path / "in"
    src.mkdir()
    dng.write(src / "a.dng", dng.scene(40, 60), "GRBG", black=(500, 510, 520, 530), white=16383)
    out = tmp_path / "out"
    assert cli.main(["convert", str(src / "a.dng"), "-o", str(out), "--workers", "0", "--bits", "16", *LINEAR]) == 0
    expected = raw.develop(raw.read(src / "a.dng"), "demosaic/conv", wb="none", colorspace="raw", gamma="linear",
                           exposure=0, dtype="uint16")
    np.testing.assert_array_equal(read_array(out / "a.png"), expected)
    assert cli.main(["convert", str(src / "a.dng"), "-o", str(out), "--workers", "0", "--format", "tiff",
                     "--bits", "8"]) == 0
    tif = read_array(out / "a.tif")
    assert tif.dtype == np.uint8 and tif.shape == (40, 60, 3)


def test_rerun_skips_finished_files_and_overwrite_replaces_them(installed, tmp_path, dng, caplog):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        dng.write(src / f"f{k}.dng", dng.scene(40, 60, seed=k))
    out = tmp_path / "out"
    args = ["convert", str(src), "-o", str(out), "--workers", "0"]
    assert cli.main(args) == 0
    first = snapshot(out)
    (out / "f1.png").unlink()  # as if the first run had stopped before it
    (out / ".f1.png.tmp-k1ll3d.png").write_bytes(b"half an image")  # and been killed mid-write
    caplog.clear()
    caplog.set_level(logging.INFO, logger="imgadapt")
    assert cli.main(args) == 0
    assert hidden(out) == []
    assert {k: v for k, v in snapshot(out).items() if k != "f1.png"} == {k: v for k, v in first.items() if k != "f1.png"}
    assert "1 converted, 2 skipped (output exists), 0 failed, of 3 files" in caplog.text
    time.sleep(0.01)
    assert cli.main([*args, "--overwrite"]) == 0
    assert all(snapshot(out)[k][1] > first[k][1] for k in ("f0.png", "f2.png"))


def test_output_folder_holding_inputs_is_refused(installed, tmp_path, dng):
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    before = snapshot(tmp_path)
    assert cli.main(["convert", str(tmp_path), "-o", str(tmp_path), "--workers", "0"]) == 2
    assert cli.main(["convert", str(tmp_path / "a.dng"), "-o", str(tmp_path / "a.png"), "--workers", "0"]) == 2
    assert snapshot(tmp_path) == before


def test_output_names_cannot_hide_collide_or_leave_the_folder(tmp_path):
    assert convert.output_name(Path("../../etc/passwd.dng"), ".png") == "passwd.png"
    assert convert.output_name(Path("..dng"), ".png") == "unnamed.png"
    assert convert.output_name(Path(".hidden.nef"), ".png") == "hidden.png"
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.dng").write_bytes(b"")
    jobs, settled = convert.plan([tmp_path / "a" / "x.dng", tmp_path / "b" / "x.dng", tmp_path / "a" / "x.dng"],
                                  tmp_path / "out", ".png")
    assert [Path(j.dst).name for j in jobs] == ["x.png"]
    assert len(settled) == 1 and settled[0].status == "failed" and "also the output of" in settled[0].message


def test_plain_mosaics_with_their_pattern(installed, tmp_path, rng):
    src = tmp_path / "in"
    src.mkdir()
    np.save(src / "m.npy", rng.integers(0, 4096, (20, 30)).astype(np.uint16))
    out = tmp_path / "out"
    assert cli.main(["convert", str(src), "-o", str(out), "--workers", "0"]) == 1  # a folder scan wants RAW files
    assert cli.main(["convert", str(src), "-o", str(out), "--workers", "0", "--pattern", "bggr"]) == 2  # no WB/matrix
    assert cli.main(["convert", str(src), "-o", str(out), "--workers", "0", "--pattern", "bggr",
                     "--white-level", "4095", *LINEAR]) == 0
    assert read_array(out / "m.png").shape == (20, 30, 3)


def test_missing_rawpy_stops_before_starting(installed, tmp_path, dng, monkeypatch, caplog):
    dng.write(tmp_path / "a.dng", dng.scene(40, 60))
    monkeypatch.setitem(sys.modules, "rawpy", None)
    assert cli.main(["convert", str(tmp_path / "a.dng"), "-o", str(tmp_path / "out")]) == 2
    assert 'pip install "imgadapt[raw]"' in caplog.text


def _fake_model(settings):
    return "fake"


def _fake_convert(job, model, settings):
    if "crash" in Path(job.src).name:
        os._exit(7)  # a decoder crash takes the whole worker process down
    Path(job.dst).write_text("ok")
    return convert.Result(job.index, job.src, job.dst, "converted")


def test_a_worker_crash_fails_its_file_and_the_batch_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "load_model", _fake_model)
    monkeypatch.setattr(convert, "convert_file", _fake_convert)
    names = ["a", "crash1", "b", "c", "crash2", "d"]
    jobs = [convert.Job(i, str(tmp_path / f"{n}.dng"), str(tmp_path / f"{n}.png")) for i, n in enumerate(names)]
    results = []
    convert.run_local(jobs, convert.Settings(model="fake"), 2, results.append, start_method="fork")
    status = {Path(r.src).stem: r for r in results}
    assert sorted(status) == sorted(names)
    assert {n for n, r in status.items() if r.status == "converted"} == {"a", "b", "c", "d"}
    assert "worker process died (exit code 7)" in status["crash1"].message


def _slow_convert(job, model, settings):
    if "slow" in Path(job.src).name:
        time.sleep(60)  # a file the decoder never finishes
    return _fake_convert(job, model, settings)


def test_a_file_over_the_time_limit_fails_and_the_batch_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "load_model", _fake_model)
    monkeypatch.setattr(convert, "convert_file", _slow_convert)
    names = ["a", "slow", "b"]
    jobs = [convert.Job(i, str(tmp_path / f"{n}.dng"), str(tmp_path / f"{n}.png")) for i, n in enumerate(names)]
    results = []
    start = time.monotonic()
    convert.run_local(jobs, convert.Settings(model="fake"), 1, results.append, start_method="fork", timeout=0.5)
    assert time.monotonic() - start < 20
    status = {Path(r.src).stem: r for r in results}
    assert status["a"].status == status["b"].status == "converted"
    assert "longer than the per-file limit of 0.5 s" in status["slow"].message


def _failing_model(settings):
    raise RuntimeError("no such model file")


def test_a_worker_that_cannot_load_the_model_stops_the_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "load_model", _failing_model)
    jobs = [convert.Job(0, str(tmp_path / "a.dng"), str(tmp_path / "a.png"))]
    with pytest.raises(WorkerError, match="could not load model 'fake': RuntimeError: no such model file"):
        convert.run_local(jobs, convert.Settings(model="fake"), 1, lambda r: None, start_method="fork")


def test_progress_bar_draws_only_on_a_terminal():
    stream = io.StringIO()
    bar = Progress(10, enabled=True, stream=stream, min_interval=0)
    bar.advance(timed=False)
    bar.advance(failed=True)
    assert "2/10 [" in stream.getvalue() and "20%" in stream.getvalue() and "1 failed" in stream.getvalue()
    assert "ETA " in bar.text()
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    Progress(3, stream=quiet).advance()  # StringIO is not a terminal
    assert quiet.getvalue() == ""


def _session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes of a session, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_run_killed_mid_way_leaves_only_complete_images_and_a_rerun_resumes(workers_see_models, tmp_path, dng,
                                                                             caplog):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    n = 8
    for k in range(n):
        dng.write(src / f"f{k}.dng", dng.scene(384, 512, seed=k))
    args = ["convert", str(src), "-o", str(out), *LINEAR]
    proc = subprocess.Popen([sys.executable, "-m", "imgadapt.cli", *args, "--workers", "1"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while not (out.is_dir() and any(p.suffix == ".png" and not p.name.startswith(".") for p in out.iterdir())):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no output appeared"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # the batch process only: its worker must notice and stop
        proc.wait()
        while _session_processes(proc.pid):
            assert time.monotonic() < deadline, "a worker outlived the killed batch"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    done = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert 1 <= len(done) < n
    for name in done:  # every visible file is a complete image
        assert read_array(out / name).shape == (384, 512, 3)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="imgadapt")
    assert cli.main([*args, "--workers", "0"]) == 0
    assert f"{n - len(done)} converted, {len(done)} skipped (output exists), 0 failed" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == [f"f{k}.png" for k in range(n)]  # temp files cleaned


def test_eval_raw_measures_convert_and_libraw_on_the_same_files(workers_see_models, tmp_path, dng):
    from imgadapt.bench import raw_eval

    images = [(f"s{k}.png", np.rint(dng.scene(48, 64, seed=k) * 255).astype(np.uint8)) for k in range(2)]
    rows = raw_eval.evaluate_raw(images, tmp_path, model="demosaic/conv", repeats=1, workers=1)
    by_method = {r["method"].split(" (")[0]: r for r in rows}
    assert set(by_method) == {"imgadapt convert", "imgadapt raw.read+develop", "libraw-ahd imread+postprocess"}
    # The batch writes exactly what the in-process pipeline returns.
    assert by_method["imgadapt convert"]["per_image"] == by_method["imgadapt raw.read+develop"]["per_image"]
    assert by_method["libraw-ahd imread+postprocess"]["psnr_db"] > 30
    assert all(r["mp_s"] > 0 for r in rows)


@pytest.mark.parametrize("option", [["--exposure", "bright"], ["--exposure", "nan"], ["--exposure", "30"],
                                    ["--highlights", "unclip"]])
def test_bad_exposure_and_highlights_options_are_usage_errors(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as info:
        cli.main(["convert", str(tmp_path), "-o", str(tmp_path / "out"), *option])
    assert info.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_exposure_and_highlights_reach_the_outputs(installed, tmp_path, dng):
    src = tmp_path / "in"
    src.mkdir()
    dng.write(src / "a.dng", dng.scene(40, 60, lo=0.02, hi=0.2), "RGGB", black=512, white=16383)
    image = raw.read(src / "a.dng")
    for options, kwargs in (([], {}), (["--exposure", "-0.5"], {"exposure": -0.5}),
                            (["--exposure", "auto", "--highlights", "reconstruct"], {"highlights": "reconstruct"})):
        out = tmp_path / f"out{len(options)}"
        assert cli.main(["convert", str(src), "-o", str(out), "--workers", "0", *options]) == 0
        np.testing.assert_array_equal(read_array(out / "a.png"),
                                      raw.develop(image, "demosaic/conv", dtype="uint16", **kwargs))
