import json

import cv2
import numpy as np
import pytest

from export.train import scenes as bs
from imgadapt.bench.boundary_metrics import thin


def sources(n=3, size=96):
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        y, x = np.mgrid[0:size, 0:size]
        stripes = 128 + 100 * np.sin(x / (2 + i) + y / 5)
        noise = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)), (0, 0), 2)
        out.append(np.clip(np.stack([stripes, noise, 0.5 * (stripes + noise)], 2), 0, 255).astype(np.uint8))
    return out


def test_scene_is_determined_by_the_seed():
    src = sources()
    a = bs.boundary_scene(src, 64, np.random.default_rng(7))
    b = bs.boundary_scene(src, 64, np.random.default_rng(7))
    c = bs.boundary_scene(src, 64, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape == (64, 64, 3) and a[0].dtype == np.uint8
    assert a[1].shape == (64, 64) and a[1].dtype == bool and a[1].any()
    gray, _ = bs.boundary_scene(src, (40, 56), np.random.default_rng(7), gray=True)
    assert gray.shape == (40, 56)


def test_borders_lie_where_labels_change():
    labels = bs.warped_labels((80, 90), 6, np.random.default_rng(3))
    assert len(np.unique(labels)) > 1
    border = bs.label_boundaries(labels)
    np.testing.assert_array_equal(thin(border), border)  # one pixel wide
    change = np.zeros(labels.shape, bool)  # pixels with another label among their 4 neighbours
    change[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    change[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    change[:-1] |= labels[:-1] != labels[1:]
    change[1:] |= labels[1:] != labels[:-1]
    assert change[border].all()
    near_border = cv2.dilate(border.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert near_border[change].all()  # every label change has a border pixel next to it
    assert not border[labels == labels[0, 0]].all()


def test_region_interiors_hold_texture_but_no_ground_truth():
    image, border = bs.boundary_scene(sources(), 96, np.random.default_rng(0))
    gx = np.abs(cv2.Sobel(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F, 1, 0))
    far = cv2.dilate(border.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    assert far.any() and np.percentile(gx[far], 90) > 20  # distractor edges away from the borders


def test_command_writes_images_and_ground_truth(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, im in enumerate(sources()):
        cv2.imwrite(str(src / f"s{i}.png"), im)
    out = tmp_path / "out"
    assert bs.main(["--src", str(src), "-o", str(out), "--count", "2", "--size", "48", "--seed", "5"]) == 0
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == sorted(p.name for p in (out / "gt").iterdir()) == ["scene_00000.png", "scene_00001.png"]
    gt = cv2.imread(str(out / "gt" / names[1]), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(gt)) == {0, 255}
    image, border = bs.boundary_scene(bs.load_sources(src), 48, np.random.default_rng([5, 1]))
    np.testing.assert_array_equal(gt > 0, border)
    np.testing.assert_array_equal(cv2.imread(str(out / "images" / names[1])), image)
    manifest = json.loads((out / bs.MANIFEST).read_text())
    assert manifest["command"].startswith("python -m export.boundary_scenes --src ")
    assert (manifest["count"], manifest["size"], manifest["seed"]) == (2, 48, 5)


def test_bsds_layout_with_several_annotators(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    (tmp_path / "images" / "val").mkdir(parents=True)
    (tmp_path / "groundTruth" / "val").mkdir(parents=True)
    image = np.full((12, 16, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "images" / "val" / "101.jpg"), image)
    a = np.zeros((12, 16), np.uint8)
    a[5, :] = 1
    b = np.zeros((12, 16), np.uint8)
    b[:, 7] = 1
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0] = {"Segmentation": (np.arange(12)[:, None] > 5).astype(np.uint16) + np.zeros((1, 16), np.uint16),
                   "Boundaries": a}
    cells[0, 1] = {"Segmentation": np.ones((12, 16), np.uint16), "Boundaries": b}
    scipy_io.savemat(str(tmp_path / "groundTruth" / "val" / "101.mat"), {"groundTruth": cells})
    (name, img, maps), = bs.load_bsds(tmp_path, "val")
    assert name == "101" and img.shape == (12, 16, 3)
    assert len(maps) == 2 and all(m.dtype == bool for m in maps)
    np.testing.assert_array_equal(maps[0], a > 0)
    np.testing.assert_array_equal(maps[1], b > 0)
    with pytest.raises(FileNotFoundError, match="images/test"):
        bs.load_bsds(tmp_path, "test")
