import json

import numpy as np
import pytest

from imgadapt import _bayer, _evaluate, cli
from imgadapt._io import write_array
from imgadapt._peers import vng_then_nlm


def test_noisy_mosaic_is_seeded_and_scaled(rng):
    mos = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    a = _evaluate.noisy_mosaic(mos, 1e-3, 1e-5, seed=1)
    np.testing.assert_array_equal(a, _evaluate.noisy_mosaic(mos, 1e-3, 1e-5, seed=1))
    assert not np.array_equal(a, _evaluate.noisy_mosaic(mos, 1e-3, 1e-5, seed=2))
    flat = np.full((200, 200), 128, np.uint8)
    sd = _evaluate.noisy_mosaic(flat, 4e-3, 0.0).astype(float).std() / 255
    assert sd == pytest.approx(np.sqrt(4e-3 * 128 / 255), rel=0.05)


def test_vng_then_nlm_reduces_noise():
    y, x = np.mgrid[0:64, 0:64]
    img = np.stack([100 + 0 * x, 120 + x, 90 + y], 2).astype(np.uint8)
    noisy = _evaluate.noisy_mosaic(_bayer.mosaic(img, "RGGB"), 2e-3, 1e-5)
    plain = np.abs(vng_then_nlm(noisy, "RGGB", h=0.01).astype(float) - img)[8:-8, 8:-8].mean()
    denoised = np.abs(vng_then_nlm(noisy, "RGGB", h=12).astype(float) - img)[8:-8, 8:-8].mean()
    assert denoised < plain


def test_evaluate_rows_and_throughput(installed, tmp_path, rng):
    for i in range(2):
        write_array(tmp_path / f"im{i}.png", rng.integers(0, 256, (40, 48, 3)).astype(np.uint8))
    images = _evaluate.load_images(tmp_path)
    rows = _evaluate.evaluate_demosaic(images, _evaluate.demosaic_methods(["demosaic/conv"], peers=False),
                                       repeats=1)
    assert [r["method"] for r in rows] == ["demosaic/conv"]
    assert set(rows[0]["per_image"]) == {"im0.png", "im1.png"} and rows[0]["mp_s"] > 0


def test_eval_cli_writes_json(installed, tmp_path, rng, capsys):
    write_array(tmp_path / "a.png", rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    out = tmp_path / "rows.json"
    assert cli.main(["eval", "demosaic", "--images", str(tmp_path), "--no-peers", "--repeats", "1",
                     "--json", str(out), "--noise", "0.001,0.00001"]) == 0
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} >= {"demosaic/conv"}
    assert [r["method"] for r in rows] == ["demosaic/conv"]


def test_noise_argument_is_checked():
    with pytest.raises(SystemExit):
        cli.main(["eval", "demosaic", "--images", ".", "--noise", "0.1"])
