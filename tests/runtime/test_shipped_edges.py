"""The boundary models shipped in models/: region borders over texture, tiling, dtypes and sizes."""
import cv2
import numpy as np
import pytest

import imgadapt
from imgadapt._registry import Registry

EDGES = Registry().list("edges")
pytestmark = pytest.mark.skipif(not EDGES, reason="no shipped boundary model")


def textured_regions(size=160, seed=0):
    """Two regions split by a vertical border at ``size // 2``, each filled with its own strong
    texture (stripes, noise): the border is a boundary, the texture inside is not."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    left = 0.35 + 0.25 * np.sign(np.sin(x * 0.9 + y * 0.4))
    right = 0.65 + 0.2 * cv2.GaussianBlur(rng.standard_normal((size, size)), (0, 0), 1.0)
    img = np.where(x < size // 2, left, right)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("name", EDGES)
def test_the_region_border_stands_out_from_the_texture(name):
    prob = imgadapt.edges(textured_regions(), model=name)
    c = prob.shape[1] // 2
    border = prob[20:-20, c - 2:c + 2].max(1).mean()
    texture = np.concatenate([prob[20:-20, 20:c - 12], prob[20:-20, c + 12:-20]], 1).mean()
    assert border > 5 * texture  # Sobel magnitude: 2.5; the shipped models: about 10


@pytest.mark.parametrize("name", EDGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_tiled_equals_untiled(name, channels, assert_tiled_equals_untiled):
    img = textured_regions(150, seed=1)
    img = img if channels == 1 else cv2.merge([img, img[::-1], img[:, ::-1]])[5:, 3:]
    assert_tiled_equals_untiled(name, img, tile=48)


@pytest.mark.parametrize("name", EDGES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 3), (17, 31)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_dtypes_and_tiny_sizes(name, shape, dtype):
    full = 1.0 if dtype == np.float64 else np.iinfo(dtype).max
    prob = imgadapt.edges(np.full(shape, 0.5 * full, dtype), model=name)
    assert prob.dtype == np.float32 and prob.shape == shape[:2]
    assert 0 <= prob.min() and prob.max() <= 1
    thin = imgadapt.edges(np.full(shape, 0.5 * full, dtype), model=name, thin=True)
    assert thin.dtype == np.uint8 and thin.shape == shape[:2] and set(np.unique(thin)) <= {0, 255}
