"""Non-maximum suppression of boundary maps as the Structured Edge toolbox does it before thinning."""
import math

import cv2
import numpy as np
import pytest

from imgadapt._nms import edge_nms, edge_orientation


def _reference_nms(prob, normal, radius=1, border=5, margin=1.01):
    """edgesNmsMex.cpp, pixel by pixel."""
    h, w = prob.shape
    out = prob.copy()

    def interp(x, y):
        x = min(max(x, 0.0), w - 1.001)
        y = min(max(y, 0.0), h - 1.001)
        x0, y0 = int(x), int(y)
        dx, dy = x - x0, y - y0
        return (prob[y0, x0] * (1 - dx) * (1 - dy) + prob[y0, x0 + 1] * dx * (1 - dy)
                + prob[y0 + 1, x0] * (1 - dx) * dy + prob[y0 + 1, x0 + 1] * dx * dy)

    for y in range(h):
        for x in range(w):
            e = prob[y, x] * margin
            c, s = math.cos(normal[y, x]), math.sin(normal[y, x])
            if any(e < interp(x + d * c, y + d * s) for d in range(-radius, radius + 1) if d):
                out[y, x] = 0
    s = min(border, w / 2, h / 2)
    for x in range(int(math.ceil(s))):
        out[:, x] *= x / s
        out[:, w - 1 - x] *= x / s
    for y in range(int(math.ceil(s))):
        out[y, :] *= y / s
        out[h - 1 - y, :] *= y / s
    return out


def test_matches_the_toolbox_pixel_by_pixel():
    rng = np.random.default_rng(0)
    prob = cv2.GaussianBlur(rng.random((23, 31)).astype(np.float32), (0, 0), 1.5)
    normal = edge_orientation(prob)
    np.testing.assert_allclose(edge_nms(prob), _reference_nms(prob.astype(np.float64), normal), atol=1e-5)


def test_a_blurred_line_keeps_its_ridge_one_pixel_wide():
    prob = np.zeros((40, 40), np.float32)
    prob[:, 20] = 1.0
    prob = cv2.GaussianBlur(prob, (0, 0), 1.5)
    normal = edge_orientation(prob)
    assert np.allclose(np.cos(normal[10:30, 15:26]) ** 2, 1, atol=1e-3)  # the normal runs across the line
    out = edge_nms(prob)
    rows = out[10:30]
    assert (rows[:, 20] > 0).all() and (np.delete(rows, 20, axis=1) == 0).all()
    assert out[0].max() == 0 and out[2, 20] == pytest.approx(prob[2, 20] * 2 / 5)  # faded near the border


def test_rejects_a_map_that_is_not_2d():
    from imgadapt import InputValueError

    with pytest.raises(InputValueError, match="HxW"):
        edge_nms(np.zeros((4, 4, 3), np.float32))
