import json

import cv2
import numpy as np
import pytest

from imgadapt.bench import edges_eval
from imgadapt import cli
from imgadapt.bench.boundary_io import load_edge_dataset, read_boundary_gt
from imgadapt.bench.boundary_metrics import thin
from imgadapt.bench.method import Method

pytest.importorskip("scipy", reason="boundary matching needs scipy (dev extra)")


def disc_scene(h=48, w=56, cx=28, cy=24, r=12, colour=True):
    """A bright disc on a dark background and its 1-px border (the disc's pixels next to the outside, thinned)."""
    y, x = np.mgrid[0:h, 0:w]
    inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    image = np.where(inside, 200, 40).astype(np.uint8)
    border = thin(inside & ~cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool))
    return (cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if colour else image), border


def write_dataset(root, n=2):
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for i in range(n):
        image, border = disc_scene(cx=24 + 4 * i, colour=i == 0)
        cv2.imwrite(str(root / "images" / f"d{i}.png"), image)
        cv2.imwrite(str(root / "gt" / f"d{i}.png"), border.astype(np.uint8) * 255)
    return root / "images", root / "gt"


def test_ground_truth_forms(tmp_path):
    one = np.zeros((6, 7), np.uint8)
    one[2] = 255
    cv2.imwrite(str(tmp_path / "a.png"), one)
    cv2.imwrite(str(tmp_path / "b_0.png"), one)
    cv2.imwrite(str(tmp_path / "b_1.png"), np.roll(one, 2, axis=0))
    (single,) = read_boundary_gt(tmp_path, "a")
    np.testing.assert_array_equal(single, one > 0)
    several = read_boundary_gt(tmp_path, "b")
    assert len(several) == 2 and several[1][4].all() and not several[1][2].any()
    with pytest.raises(FileNotFoundError, match=r"expected one ground truth for 'c'.*found nothing"):
        read_boundary_gt(tmp_path, "c")
    cv2.imwrite(str(tmp_path / "a_0.png"), one)
    with pytest.raises(FileNotFoundError, match="found a.png, a_0.png"):
        read_boundary_gt(tmp_path, "a")


def test_bsds_mat_ground_truth(tmp_path):
    from scipy.io import savemat

    cells = np.empty((1, 3), dtype=object)
    for k in range(3):
        b = np.zeros((6, 7), np.uint8)
        b[k] = 1
        cells[0, k] = {"Segmentation": np.ones((6, 7), np.uint16), "Boundaries": b}
    savemat(str(tmp_path / "x.mat"), {"groundTruth": cells})
    maps = read_boundary_gt(tmp_path, "x")
    assert [int(np.nonzero(m)[0][0]) for m in maps] == [0, 1, 2]


def test_ground_truth_size_must_match_the_image(tmp_path):
    images, gt = write_dataset(tmp_path, n=1)
    cv2.imwrite(str(gt / "d0.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"d0.png: ground truth 0 is 10x10, expected the image's 48x56"):
        load_edge_dataset(images, gt)


def test_peers_find_a_clean_disc(tmp_path):
    dataset = load_edge_dataset(*write_dataset(tmp_path))
    assert dataset[0][1].ndim == 3 and dataset[1][1].ndim == 2
    # 0.03 x the diagonal is 2.2 px: one-pixel differences in where a detector puts a step edge match
    rows = edges_eval.evaluate_edges(dataset, edges_eval.edge_methods([], peers=True), max_dist=0.03, repeats=1)
    assert {r["method"] for r in rows} == {"opencv-sobel", "opencv-canny", "opencv-gauss(2)+sobel",
                                           "opencv-gauss(2)+canny"}
    by = {r["method"]: r for r in rows}
    assert by["opencv-canny"]["ods"] > 0.9 and by["opencv-canny"]["ods_at"].startswith("high=")
    assert by["opencv-sobel"]["ods"] > 0.9 and by["opencv-sobel"]["ods_at"].startswith("t=")
    for r in rows:
        assert 0 <= r["ap"] <= 1 and r["ods"] <= r["ois"] + 1e-9 and r["mp_s"] > 0
        assert set(r["per_image"]) == {"d0.png", "d1.png"}


def test_model_outputs_are_checked(tmp_path):
    dataset = load_edge_dataset(*write_dataset(tmp_path, n=1))
    bad = Method(lambda im: np.zeros((5, 5), np.float32), "test")
    with pytest.raises(ValueError, match=r"bad: expected a boundary map of shape \(48, 56\) for d0.png, got \(5, 5\)"):
        edges_eval.evaluate_edges(dataset, {"bad": bad}, repeats=1)
    loud = Method(lambda im: np.full(im.shape[:2], 2.0, np.float32), "test")
    with pytest.raises(ValueError, match=r"loud on d0.png: expected values in \[0, 1\], got the range \[2, 2\]"):
        edges_eval.evaluate_edges(dataset, {"loud": loud}, repeats=1)


def test_eval_edges_cli_with_a_model(installed, tmp_path, capsys):
    images, gt = write_dataset(tmp_path)
    out = tmp_path / "rows.json"
    assert cli.main(["eval", "edges", "--images", str(images), "--gt", str(gt), "--repeats", "1",
                     "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} >= {"edges/conv", "opencv-canny", "opencv-sobel"}
    assert [r["ods"] for r in rows] == sorted((r["ods"] for r in rows), reverse=True)
    assert next(r for r in rows if r["method"] == "edges/conv")["source"] == "imgadapt"
    assert "ODS" in capsys.readouterr().out


def test_eval_edges_cli_usage_errors(tmp_path, monkeypatch):
    import imgadapt._model as m
    from imgadapt._registry import Registry

    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr(m, "_registry", Registry([empty]))  # no edges model installed, no peers: nothing to measure
    images, gt = write_dataset(tmp_path, n=1)
    assert cli.main(["eval", "edges", "--images", str(images)]) == 2
    assert cli.main(["eval", "edges", "--images", str(images), "--gt", str(tmp_path / "missing")]) == 2
    assert cli.main(["eval", "edges", "--images", str(images), "--gt", str(gt), "--no-peers", "--models"]) == 2
