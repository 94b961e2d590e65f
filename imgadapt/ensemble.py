"""The geometric self-ensemble: a model on the 8 flips and rotations of an image, turned back and
averaged. :func:`dihedral` is also the training side's augmentation, so both agree on what ``k`` means."""
from __future__ import annotations

import numpy as np

# The order in which the ensemble visits the transforms; it fixes the order of the float sums.
_ENSEMBLE_ORDER = (0, 1, 2, 3, 4, 7, 6, 5)


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips and rotations (``k`` in 0..7): ``k % 4`` quarter turns, then a left-right
    flip for ``k >= 4``; a contiguous copy."""
    out = np.rot90(img, k % 4)
    return np.ascontiguousarray(out[:, ::-1] if k >= 4 else out)


def undo_dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The inverse of :func:`dihedral` (a view)."""
    return np.rot90(img[:, ::-1] if k >= 4 else img, -(k % 4))


def self_ensemble(model, image: np.ndarray) -> np.ndarray:
    """``model`` on the 8 flips and rotations of ``image``, turned back and averaged; the dtype of
    ``model(image)``, integers rounded."""
    first = model(image)
    total = first.astype(np.float64)
    for k in _ENSEMBLE_ORDER[1:]:
        total += undo_dihedral(model(dihedral(image, k)), k)
    total /= 8
    if first.dtype.kind in "ui":
        return np.clip(np.rint(total), 0, np.iinfo(first.dtype).max).astype(first.dtype)
    return total.astype(first.dtype)
