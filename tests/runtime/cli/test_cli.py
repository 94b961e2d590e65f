import numpy as np
import pytest

from imgadapt import cli
from imgadapt._io import read_array, write_array


def test_models_listing(installed, capsys):
    assert cli.main(["models"]) == 0
    assert "demosaic/conv" in capsys.readouterr().out


def test_models_listing_marks_the_defaults(capsys):
    from imgadapt import list_models

    if not list_models("sr"):
        pytest.skip("no shipped models")
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    marked = {line.split()[1] for line in out[:-1] if line.startswith("* ")}
    assert marked == {"demosaic/pafu-linear", "edges/gd-col", "sr/pafu-espcn-plain-x2", "sr/pafu-espcn-plain-x3",
                      "sr/pafu-espcn-plain-x4"}
    assert out[-1].startswith("* the default")


def test_demosaic_batch_reports_failures_and_goes_on(installed, tmp_path, rng):
    src = tmp_path / "in"
    src.mkdir()
    write_array(src / "a.png", rng.integers(0, 65535, (20, 30)).astype(np.uint16))
    np.save(src / "b.npy", rng.random((10, 12)).astype(np.float32))
    (src / "c.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert cli.main(["demosaic", str(src), "-o", str(out), "--pattern", "grbg"]) == 1
    a = read_array(out / "a.png")
    assert a.shape == (20, 30, 3) and a.dtype == np.uint16
    assert read_array(out / "b.png").shape == (10, 12, 3)
    assert not (out / "c.png").exists()
    assert sorted(p.name for p in src.iterdir()) == ["a.png", "b.npy", "c.png"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_existing_output_needs_overwrite(installed, tmp_path, rng):
    write_array(tmp_path / "m.png", rng.integers(0, 255, (8, 8)).astype(np.uint8))
    dst = tmp_path / "o.png"
    assert cli.main(["demosaic", str(tmp_path / "m.png"), "-o", str(dst)]) == 0
    assert cli.main(["demosaic", str(tmp_path / "m.png"), "-o", str(dst)]) == 1
    assert cli.main(["demosaic", str(tmp_path / "m.png"), "-o", str(dst), "--overwrite"]) == 0


def test_unknown_model_exit_status(installed, tmp_path, capsys):
    write_array(tmp_path / "m.png", np.zeros((8, 8), np.uint8))
    assert cli.main(["demosaic", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png"), "--model", "nope"]) == 2


def test_bad_pattern_rejected_by_parser(installed):
    with pytest.raises(SystemExit):
        cli.main(["demosaic", "x.png", "-o", "y.png", "--pattern", "RGBG"])


def test_duplicate_destinations_are_refused(installed, tmp_path, rng):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        write_array(tmp_path / sub / "x.png", rng.integers(0, 255, (8, 8)).astype(np.uint8))
    out = tmp_path / "out"
    assert cli.main(["demosaic", str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"), "-o", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["x.png"]


def test_float_output_to_jpeg_is_eight_bit(tmp_path):
    write_array(tmp_path / "f.jpg", np.full((8, 8, 3), 0.5, np.float32))
    assert abs(int(read_array(tmp_path / "f.jpg").mean()) - 128) <= 1
    with pytest.raises(ValueError, match="holds 8 bits"):
        write_array(tmp_path / "g.jpg", np.zeros((8, 8, 3), np.uint16))


def test_threads_error_is_typed(installed, tmp_path):
    write_array(tmp_path / "m.png", np.zeros((8, 8), np.uint8))
    assert cli.main(["demosaic", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png"), "--threads", "0"]) == 2


def test_train_help_from_the_checkout(capsys):
    pytest.importorskip("torch", reason="training needs the train extra")
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    assert exc.value.code == 0 and "--data" in capsys.readouterr().out


def test_outputs_get_default_permissions(tmp_path):
    import os

    write_array(tmp_path / "p.png", np.zeros((4, 4), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o666 & ~mask


def test_upscale_batch_and_scale_checks(installed, tmp_path, rng, caplog):
    src = tmp_path / "in"
    src.mkdir()
    write_array(src / "c.png", rng.integers(0, 255, (9, 13, 3)).astype(np.uint8))
    write_array(src / "g.png", rng.integers(0, 65535, (7, 5)).astype(np.uint16))
    out = tmp_path / "out"
    assert cli.main(["upscale", str(src), "-o", str(out), "--scale", "2"]) == 0
    assert read_array(out / "c.png").shape == (18, 26, 3)
    g = read_array(out / "g.png")
    assert g.shape == (14, 10) and g.dtype == np.uint16
    assert cli.main(["upscale", str(src), "-o", str(out), "--scale", "3"]) == 2
    assert "no super-resolution model for x3" in caplog.text
    assert cli.main(["upscale", str(src), "-o", str(out), "--scale", "3", "--model", "sr/conv-x2"]) == 2
    assert "upscales x2, but --scale 3" in caplog.text
