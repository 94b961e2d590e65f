"""BSDS500 training data: agreement labels, augmented crops, and ``imgadapt train edges`` on a BSDS layout."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_io = pytest.importorskip("scipy.io")

from export.train.bsds import agreement_targets, bsds_batches, is_bsds, load_agreement  # noqa: E402
from export.train.edges import IGNORED  # noqa: E402


def write_bsds(root, split, count, shape=(60, 72), seed=0):
    """Images with a bright square; annotator 1 marks its border, annotator 2 too plus a stray line."""
    import cv2

    (root / "images" / split).mkdir(parents=True)
    (root / "groundTruth" / split).mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        img = np.full(shape + (3,), 40, np.uint8)
        y, x = rng.integers(8, 20, 2)
        img[y:y + 24, x:x + 30] = 200
        cv2.imwrite(str(root / "images" / split / f"{i}.jpg"), img)
        border = np.zeros(shape, np.uint8)
        cv2.rectangle(border, (int(x), int(y)), (int(x) + 29, int(y) + 23), 1, 1)
        stray = border.copy()
        stray[shape[0] - 5, 5:40] = 1
        cells = np.empty((2,), dtype=object)
        for j, b in enumerate((border, stray)):
            cells[j] = {"Boundaries": b.astype(np.uint16), "Segmentation": np.ones(shape, np.uint16)}
        scipy_io.savemat(str(root / "groundTruth" / split / f"{i}.mat"), {"groundTruth": cells})
    return root


def test_agreement_is_the_share_of_annotators_and_targets_ignore_the_few(tmp_path):
    root = write_bsds(tmp_path / "bsds", "train", 1)
    assert is_bsds(root) and not is_bsds(tmp_path)
    ((gray, agreement),) = load_agreement(root, "train")
    assert gray.dtype == np.float32 and 0 <= gray.min() and gray.max() <= 1
    assert set(np.unique(agreement)) == {0.0, 0.5, 1.0}
    targets = agreement_targets(agreement, 0.6)
    np.testing.assert_array_equal(targets == 1, agreement == 1)
    np.testing.assert_array_equal(targets == IGNORED, agreement == 0.5)
    assert (agreement_targets(agreement, 0.5) == 1).sum() == (agreement > 0).sum()
    with pytest.raises(ValueError, match="threshold"):
        agreement_targets(agreement, 0)


def test_crops_hold_the_boundaries_of_their_image():
    image = np.zeros((40, 50), np.float32)
    image[:, 25:] = 1.0
    agreement = np.zeros_like(image)
    agreement[:, 25] = 1.0
    make = bsds_batches([(image, agreement)], batch=16, size=16, pad=4, scales=(0.5, 1.5), threshold=0.3)
    x, y, margin = make(np.random.default_rng(0))
    assert x.shape == (16, 1, 24, 24) and y.shape == (16, 1, 16, 16) and margin == 4
    for crop, target in zip(x[:, 0].numpy(), y[:, 0].numpy()):
        step = np.abs(np.diff(crop[4:20, 4:20], axis=0)).max(), np.abs(np.diff(crop[4:20, 4:20], axis=1)).max()
        if (target == 1).any():  # a boundary in the target lies where the crop changes
            assert max(step) > 0.2
        else:
            assert max(step) < 0.2 or (target == IGNORED).any()


def test_train_edges_on_a_bsds_folder_records_the_labels_and_measures_on_its_val_split(tmp_path, monkeypatch):
    from export.onnx import ship

    real = ship.faster_graph_optimization
    monkeypatch.setattr(ship, "faster_graph_optimization", lambda data, channels: real(data, channels, size=32, runs=1))
    root = write_bsds(tmp_path / "bsds", "train", 2)
    write_bsds(root, "val", 1, seed=1)
    out = tmp_path / "models"
    assert train_cli_main(["edges/gd-col-lite", "--data", str(root), "--val", str(root), "--out", str(out),
                           "--runs", str(tmp_path / "runs"), "--steps", "2", "--batch", "2", "--patch", "16",
                           "--pad", "4", "--threads", "1", "--bsds-threshold", "0.5"]) == 0
    card = json.loads((out / "edges" / "gd-col-lite.json").read_text())
    assert card["train"]["threshold"] == 0.5 and card["train"]["images"] == 2 and "BSDS500" in card["train"]["targets"]
    assert card["metrics"]["images"] == ["0.jpg"] and 0 <= card["metrics"]["ods"] <= 1


def train_cli_main(argv):
    from export.train import cli as train_cli

    return train_cli.main(argv)
