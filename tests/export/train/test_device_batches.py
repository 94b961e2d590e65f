"""Demosaicking batches made on the training device follow the CPU recipe."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.train.data import ImageSet, mosaic_rggb  # noqa: E402
from export.train.device_batches import DeviceImages, device_demosaic_batches  # noqa: E402


def _images():
    rng = np.random.default_rng(0)
    return ImageSet([np.rint(rng.random((40 + 6 * i, 52, 3)) * 255).astype(np.float32) / 255 for i in range(3)])


def test_crops_are_8_bit_windows_of_the_images_under_a_flip_or_rotation():
    images = _images()
    pool = DeviceImages(images, (1.0,), "cpu", 16)
    crops = pool.crops(12, np.random.default_rng(1), jitter=0.0)
    assert crops.shape == (12, 3, 16, 16) and crops.dtype == torch.float32
    for crop in crops:
        found = False
        for image in images:
            t = torch.from_numpy(image).permute(2, 0, 1)
            for k in range(8):  # undo the transform: the window must appear in the image
                c = crop.flip(2) if k >= 4 else crop
                c = torch.rot90(c, -(k % 4), dims=(1, 2))
                hits = (t.unfold(1, 16, 1).unfold(2, 16, 1) - c[:, None, None]).abs().amax((0, 3, 4)) < 1e-6
                found |= bool(hits.any())
        assert found


def test_scales_too_small_for_a_crop_are_left_out_and_gains_stay_in_range():
    pool = DeviceImages(_images(), (1.0, 0.5, 0.3), "cpu", 24)
    assert pool.scales == [0.5, 1.0]  # 0.3 leaves every image under 24 px
    crops = pool.crops(32, np.random.default_rng(2), jitter=0.2)
    assert 0 <= float(crops.min()) and float(crops.max()) <= 1
    with pytest.raises(ValueError, match="at least 200 px"):
        DeviceImages(_images(), (1.0,), "cpu", 200)


def test_batches_are_mosaics_of_their_targets_mirrored_by_the_pad():
    make = device_demosaic_batches(_images(), 4, 16, 4, (1.0, 0.7), "cpu")
    mosaic, rgb, margin = make(np.random.default_rng(3))
    assert mosaic.shape == (4, 1, 24, 24) and rgb.shape == (4, 3, 16, 16) and margin == 4
    torch.testing.assert_close(mosaic[..., 4:20, 4:20], mosaic_rggb(rgb))
    torch.testing.assert_close(rgb, torch.round(rgb * 255) / 255)
    with pytest.raises(ValueError, match="even"):
        device_demosaic_batches(_images(), 4, 15, 4, (1.0,), "cpu")
