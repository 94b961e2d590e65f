import numpy as np
import pytest

import imgadapt
from export.docs.sr_colour import chroma_headroom, with_chroma_of


def colour_scene(seed, h=48, w=64):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 16.0
    planes = [127 + 90 * np.sin(x * rng.uniform(0.5, 2) + y * rng.uniform(0.5, 2) + c) for c in range(3)]
    return np.clip(np.stack(planes, 2), 0, 255).astype(np.uint8)


def test_recombined_chroma_keeps_the_image_it_came_from():
    img = colour_scene(0)
    assert np.abs(with_chroma_of(img, img).astype(int) - img).max() <= 1


@pytest.mark.skipif("sr/pafu-espcn-plain-x2" not in imgadapt.list_models("sr"), reason="no shipped x2 model")
def test_every_row_has_the_same_luma_but_its_own_chroma():
    rows = chroma_headroom([(f"s{i}", colour_scene(i)) for i in range(2)], 2, "sr/pafu-espcn-plain-x2")
    y = [rows[k]["y_psnr_db"] for k in ("model, bicubic chroma", "model on Y, Cr and Cb")]
    assert abs(y[0] - y[1]) < 0.02  # the chroma path does not touch the luma
    assert rows["model, true chroma"]["rgb_psnr_db"] > rows["model, bicubic chroma"]["rgb_psnr_db"]
    assert rows["model, bicubic chroma"]["y_psnr_db"] > rows["bicubic"]["y_psnr_db"]
