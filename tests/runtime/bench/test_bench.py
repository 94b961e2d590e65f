import json
import math
import sys

import cv2
import numpy as np
import pytest

from imgadapt.bench import suite, peak_memory
from imgadapt import cli
from imgadapt.errors import InputValueError, UnknownNameError


def direct_psnr(a, b, crop, y=False):
    a, b = a.astype(np.float64)[crop:-crop, crop:-crop], b.astype(np.float64)[crop:-crop, crop:-crop]
    if y:  # BT.601 luma on the 8-bit scale, from BGR
        a, b = ((16 + (65.481 * x[..., 2] + 128.553 * x[..., 1] + 24.966 * x[..., 0]) / 255) for x in (a, b))
    return 10 * math.log10(255 ** 2 / np.mean((a - b) ** 2))


def test_peer_figures_agree_with_direct_calls(tmp_path, photos):
    from imgadapt.bench.resize import downscale

    folder = photos(tmp_path / "img", shapes=((40, 48), (36, 44)))
    images = [cv2.imread(str(p)) for p in sorted(folder.iterdir())]
    rows, _ = suite.bench("demosaic", folder, only=["opencv-bilinear", "opencv-vng"], repeats=1, memory=False)
    for method, code in (("opencv-bilinear", cv2.COLOR_BayerBG2BGR), ("opencv-vng", cv2.COLOR_BayerBG2BGR_VNG)):
        psnrs = []
        for img in images:
            mos = np.empty(img.shape[:2], np.uint8)  # RGGB sensor, built by hand
            mos[0::2, 0::2], mos[0::2, 1::2] = img[0::2, 0::2, 2], img[0::2, 1::2, 1]
            mos[1::2, 0::2], mos[1::2, 1::2] = img[1::2, 0::2, 1], img[1::2, 1::2, 0]
            psnrs.append(direct_psnr(cv2.cvtColor(mos, code), img, 8))
        row = next(r for r in rows if r["method"] == method)
        assert row["psnr_db"] == pytest.approx(np.mean(psnrs), abs=2e-3)
        assert row["source"] == "opencv-python" and row["mp_s"] > 0

    rows, _ = suite.bench("sr", folder, scale=2, only=["opencv-bicubic"], repeats=1, memory=False)
    psnrs = []
    for img in images:
        lr = downscale(img, 2)
        up = cv2.resize(lr, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_CUBIC)
        psnrs.append(direct_psnr(up, img, 2, y=True))
    assert rows[0]["psnr_db"] == pytest.approx(np.mean(psnrs), abs=2e-3)


def test_missing_peers_are_skipped_with_a_note(tmp_path, photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "colour_demosaicing", None)  # import fails, find_spec says missing
    monkeypatch.setitem(sys.modules, "rawpy", None)
    monkeypatch.setitem(sys.modules, "demosaicnet", None)
    found, notes = suite.methods("demosaic", models=[])
    assert list(found) == ["opencv-bilinear", "opencv-vng", "opencv-ea"]
    assert any(n.startswith("malvar2004: skipped") and "colour-demosaicing" in n for n in notes)
    assert sum("rawpy" in n for n in notes) == 5
    with pytest.raises(UnknownNameError, match="menon2007: skipped"):
        suite.methods("demosaic", models=[], only=["menon2007"])
    rows, notes = suite.bench("demosaic", photos(tmp_path / "img", shapes=((40, 48), (36, 44))), models=[], repeats=1, memory=False)
    assert {r["method"] for r in rows} == set(found) and len(notes) == 8


def test_bench_cli_json_memory_and_chart(installed, tmp_path, photos, capsys):
    folder = photos(tmp_path / "img", shapes=((40, 48), (36, 44)))
    out, chart = tmp_path / "rows.json", tmp_path / "chart.png"
    assert cli.main(["bench", "demosaic", "--images", str(folder), "--only", "demosaic/conv", "opencv-bilinear",
                     "--repeats", "1", "--json", str(out), "--plot", str(chart)]) == 0
    rows = json.loads(out.read_text())
    assert isinstance(rows, list) and {r["method"] for r in rows} == {"demosaic/conv", "opencv-bilinear"}
    for r in rows:
        assert {"task", "method", "source", "psnr_db", "mp_s", "peak_mb", "per_image", "megapixels"} <= set(r)
        assert r["task"] == "demosaic" and r["mp_s"] > 0 and isinstance(r["psnr_db"], float)
        if sys.platform == "linux":
            assert r["peak_mb"] >= 0 and r["process_peak_mb"] > r["peak_mb"]
    assert {r["source"] for r in rows} == {"imgadapt", "opencv-python"}
    assert cv2.imread(str(chart)).shape[2] == 3
    assert "PSNR dB" in capsys.readouterr().out


def test_bench_cli_sr_and_edges(installed, tmp_path, photos):
    folder = photos(tmp_path / "img", shapes=((40, 48), (36, 44)))
    out = tmp_path / "sr.json"
    assert cli.main(["bench", "sr", "--images", str(folder), "--scale", "2", "--no-memory", "--repeats", "1",
                     "--json", str(out)]) == 0
    assert {(r["method"], r["source"]) for r in json.loads(out.read_text())} == {
        ("sr/conv-x2", "imgadapt"), ("opencv-bicubic", "opencv-python"), ("opencv-lanczos", "opencv-python")}
    pytest.importorskip("scipy", reason="boundary matching needs scipy (dev extra)")
    (tmp_path / "gt").mkdir()
    for p in folder.iterdir():
        gt = np.zeros(cv2.imread(str(p)).shape[:2], np.uint8)
        gt[10, :] = 255
        cv2.imwrite(str(tmp_path / "gt" / p.name), gt)
    out = tmp_path / "edges.json"
    assert cli.main(["bench", "edges", "--images", str(folder), "--gt", str(tmp_path / "gt"), "--only", "edges/conv",
                     "opencv-sobel", "--no-memory", "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == sorted((r["method"] for r in rows), key=lambda m: -next(
        r["ods"] for r in rows if r["method"] == m))
    assert all({"ods", "ois", "mp_s", "source"} <= set(r) for r in rows)


def test_scaling_rows(installed, monkeypatch):
    monkeypatch.setattr(suite, "DEFAULT_TILE", 128)  # the 0.04-MP frame (244 px wide) spans two tiles
    rows = suite.scaling("demosaic", sizes=[0.04], untiled_max_mp=0.05, repeats=1)
    assert [(r["tile"], round(r["megapixels"], 2)) for r in rows] == [("128", 0.04), ("off", 0.04)]
    assert all(r["mp_s"] > 0 and r["source"] == "imgadapt" for r in rows)
    assert rows[0]["io_mb"] == pytest.approx(rows[0]["megapixels"] * 4 / 1.048576, rel=0.01)  # uint8 in, BGR out
    assert suite.frame_shape(24, "demosaic") == (4000, 6000) and suite.frame_shape(24, "sr", 2) == (2000, 3000)


def test_peak_memory_sees_a_large_allocation():
    if peak_memory.reset_high_water() is None:
        pytest.skip("the resident high-water mark cannot be reset here (Linux only)")
    result = peak_memory.profile([np.zeros(4)], lambda x: np.ones(48 * 2**20 // 8), 1.0, repeats=1)
    assert 46 <= result["peak_mb"] <= 80 and result["mp_s"] > 0 and "VmHWM" in result["memory_how"]


def test_bad_input_raises_typed_errors(tmp_path, photos, capsys):
    folder = photos(tmp_path / "img", shapes=((20, 20),))
    with pytest.raises(InputValueError, match="--scale"):
        suite.bench("sr", folder)
    with pytest.raises(InputValueError, match="--gt"):
        suite.bench("edges", folder)
    with pytest.raises(UnknownNameError, match="bench task"):
        suite.bench("denoise", folder)
    with pytest.raises(UnknownNameError, match="unknown method"):
        suite.methods("sr", scale=2, models=[], only=["nope"])
    for sizes in ([0], [500], []):
        with pytest.raises(InputValueError, match="megapixels"):
            suite.check_sizes(sizes)
    assert cli.main(["bench", "demosaic"]) == 2
    assert cli.main(["bench", "demosaic", "--images", str(tmp_path / "missing")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["bench", "demosaic", "--scaling", "--sizes", "0,1"])
    assert cli.main(["bench", "demosaic", "--images", str(folder), "--only", "opencv-bilinear", "--no-memory",
                     "--repeats", "1", "--plot", str(tmp_path / "chart.txt")]) == 0
    assert "note: no chart written" in capsys.readouterr().out
