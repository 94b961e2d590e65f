"""Promise: a damaged file gives a per-file error or a correct output; never a traceback, never a hang.

Valid seed files (DNG, PNG, TIFF, NPY, JPEG) are mutated byte by byte with fixed seeds; every mutant
goes through ``imgadapt.raw.read`` + ``develop`` and through the batch commands, each in a child
process under a time limit so that a hang in a decoder fails the test instead of blocking it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests._raw_files import linear_scene, write_dng
from tests.reliability.mutate import fuzz_files

PER_FILE_SECONDS = 20
MUTANTS = 24

# Reads and develops each file named on the command line; one JSON line per file, flushed at once, so
# a hang is pinned to the file that caused it.
_READ_AND_DEVELOP = r"""
import json, sys, time, traceback
import numpy as np
import imgadapt
from imgadapt import raw
model = imgadapt.load("demosaic/pafu-linear")
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    try:
        image = raw.read(path, pattern="RGGB")
        plain = image.camera_wb is None  # a plain mosaic: no white balance or colour matrix recorded
        out = raw.develop(image, model=model, wb="none" if plain else "camera", colorspace="raw" if plain else "srgb")
        ok = (image.mosaic.ndim == 2 and out.ndim == 3 and out.shape[2] == 3
              and out.shape[:2] in (image.mosaic.shape, image.mosaic.shape[::-1])
              and (out.dtype.kind == "u" or bool(np.isfinite(out).all())))
        result = "ok" if ok else f"bad output {out.shape} {out.dtype} from mosaic {image.mosaic.shape}"
    except (imgadapt.ImgadaptError, FileNotFoundError) as exc:
        result = "error " + type(exc).__name__
    except Exception:
        result = "BUG " + traceback.format_exc()
    print(json.dumps({"file": path, "result": result, "seconds": time.perf_counter() - t0}), flush=True)
"""


def _seed_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    mosaic8 = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    mosaic16 = (mosaic8.astype(np.uint16) * 257)
    seeds = {"dng": folder / "seed.dng", "png": folder / "seed.png", "tif": folder / "seed.tif",
             "npy": folder / "seed.npy", "jpg": folder / "seed.jpg"}
    write_dng(seeds["dng"], linear_scene(24, 32))
    cv2.imwrite(str(seeds["png"]), mosaic16)
    import tifffile

    tifffile.imwrite(seeds["tif"], mosaic16)
    np.save(seeds["npy"], mosaic8)
    cv2.imwrite(str(seeds["jpg"]), mosaic8)
    return seeds


@pytest.fixture(scope="module")
def mutants(tmp_path_factory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("fuzz")
    seeds = _seed_files(root / "seeds")
    return {kind: [seed] + fuzz_files(seed, root / kind, MUTANTS, seed=i, prefix="m")
            for i, (kind, seed) in enumerate(sorted(seeds.items()))}


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("kind", ["dng", "png", "tif", "npy"])
def test_read_and_develop_never_crash(mutants, kind):
    files = [str(p) for p in mutants[kind]]
    proc = _run([sys.executable, "-c", _READ_AND_DEVELOP, *files], timeout=PER_FILE_SECONDS * len(files))
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["file"] for r in lines] == files
    bugs = [r for r in lines if r["result"].startswith(("BUG", "bad output"))]
    assert not bugs, bugs[0]["file"] + ": " + bugs[0]["result"]
    slow = [r for r in lines if r["seconds"] > PER_FILE_SECONDS]
    assert not slow, slow
    assert lines[0]["result"] == "ok", "the undamaged seed file must develop"


def _imgadapt(*args: str) -> list[str]:
    return [sys.executable, "-m", "imgadapt.cli", *args]


def _check_batch(proc: subprocess.CompletedProcess, inputs: list[Path], out: Path, suffix: str) -> None:
    """Exit 0 or 1, no traceback, the undamaged first input converted, every other one converted or
    named in an error, no temporary file left."""
    text = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    assert (out / (inputs[0].stem + suffix)).exists(), "the undamaged file was not converted: " + text[-2000:]
    for src in inputs:
        produced = out / (src.stem + suffix)
        if produced.exists():
            assert cv2.imread(str(produced), cv2.IMREAD_UNCHANGED) is not None, produced
        else:
            assert src.name in text, f"{src.name}: neither an output nor an error"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


@pytest.mark.parametrize("command", ["demosaic", "edges", "upscale"])
def test_batch_commands_survive_damaged_images(mutants, tmp_path, command):
    inputs = mutants["png"][:13] + mutants["jpg"][:13] + mutants["npy"][:9] + mutants["tif"][:9]
    folder = tmp_path / "in"
    folder.mkdir()
    for i, src in enumerate(inputs):  # unique stems: one output name per input
        (folder / f"{i:02d}{src.suffix}").write_bytes(src.read_bytes())
    inputs = sorted(folder.iterdir())
    out = tmp_path / "out"
    extra = {"demosaic": ["--pattern", "RGGB", "--model", "demosaic/pafu-linear"],
             "edges": ["--model", "edges/gd-col-lite"], "upscale": ["--scale", "2"]}[command]
    proc = _run(_imgadapt(command, str(folder), "-o", str(out), *extra), timeout=PER_FILE_SECONDS * len(inputs))
    out.mkdir(exist_ok=True)
    _check_batch(proc, inputs, out, ".png")


def test_convert_survives_damaged_raw_files(mutants, tmp_path):
    out, folder = tmp_path / "out", tmp_path / "in"
    folder.mkdir()
    for src in mutants["dng"]:  # the seed first, then its mutants
        (folder / src.name).write_bytes(src.read_bytes())
    proc = _run(_imgadapt("convert", str(folder), "-o", str(out), "--workers", "0", "-q"),
                timeout=PER_FILE_SECONDS * len(mutants["dng"]))
    out.mkdir(exist_ok=True)
    _check_batch(proc, [folder / p.name for p in mutants["dng"]], out, ".png")
