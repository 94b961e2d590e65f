"""Training data: downscaled copies kept per image give the same crops as resizing every time."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.train.data import ImageSet, load_folder, random_crops  # noqa: E402


def test_crops_of_an_image_set_equal_those_of_a_plain_list():
    rng = np.random.default_rng(0)
    images = [rng.random((70 + 9 * i, 90, 3), dtype=np.float32) for i in range(3)]
    cached = ImageSet(images)
    for seed in range(3):
        plain = random_crops(images, 12, 24, np.random.default_rng(seed), scales=(1.0, 0.7, 0.5))
        again = random_crops(cached, 12, 24, np.random.default_rng(seed), scales=(1.0, 0.7, 0.5))
        assert torch.equal(plain, again)
    assert {scale for _, scale in cached._scaled} <= {0.7, 0.5} and cached._scaled


def test_load_folder_reads_lossless_webp(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.webp"), img, [cv2.IMWRITE_WEBP_QUALITY, 101])
    (loaded,) = load_folder(tmp_path)
    assert isinstance(load_folder(tmp_path), ImageSet)
    np.testing.assert_array_equal(np.rint(loaded * 255).astype(np.uint8), img[:, :, ::-1])
