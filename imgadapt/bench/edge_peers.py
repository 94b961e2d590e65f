"""OpenCV boundary detectors measured next to the imgadapt edges models.

- Sobel: gradient magnitude of the luma (3x3 ``cv2.Sobel``, optional Gaussian blur first), divided
  by the image's largest magnitude, used as a boundary probability map in [0, 1].
- Canny: ``cv2.Canny`` (L2 gradient, low threshold = 0.4 x high, optional Gaussian blur first) at a
  grid of high thresholds. It gives binary maps, not a probability, so its evaluation levels are
  the settings, from the most permissive (lowest high threshold) to the strictest; raising both
  thresholds only removes edge pixels, so the settings are nested like the thresholds of a
  probability map.
"""
from __future__ import annotations

import cv2
import numpy as np

CANNY_HIGHS = tuple(float(v) for v in np.round(np.geomspace(10, 1000, 25), 1))
CANNY_LOW_RATIO = 0.4
CANNY_DEFAULT_HIGH = 100.0  # the setting timed as "the method" (a common choice on 8-bit images)


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0 else image


def sobel_probability(image: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """Sobel gradient magnitude of an 8-bit gray or BGR image, scaled to [0, 1] (float32 ``HxW``)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray = _blurred(gray.astype(np.float32), sigma)
    magnitude = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    top = float(magnitude.max())
    return magnitude / top if top > 0 else magnitude


def canny(image: np.ndarray, high: float = CANNY_DEFAULT_HIGH, sigma: float = 0.0) -> np.ndarray:
    """``cv2.Canny`` of an 8-bit gray or BGR image (low = 0.4 x high, L2 gradient): bool ``HxW``."""
    return cv2.Canny(_blurred(image, sigma), CANNY_LOW_RATIO * high, high, L2gradient=True) > 0


def canny_levels(image: np.ndarray, sigma: float = 0.0, highs=CANNY_HIGHS) -> list[np.ndarray]:
    """:func:`canny` at each high threshold of ``highs`` (ascending): permissive to strict."""
    blurred = _blurred(image, sigma)
    return [canny(blurred, high) for high in highs]
