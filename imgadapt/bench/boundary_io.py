"""Boundary ground truth on disk: one PNG per annotator, numbered PNGs, or BSDS500 ``.mat`` files."""
from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np

from ..errors import InputDtypeError, InputShapeError, InputValueError
from .._io import IMAGE_SUFFIXES, read_array

MAT_HINT = 'reading BSDS .mat ground truth needs scipy: pip install "imgadapt[peers]" (or pip install scipy)'


def read_bsds_mat(path: str | Path) -> list[np.ndarray]:
    """The annotators' boundary maps (bool ``HxW``) of a BSDS500 ``groundTruth`` ``.mat`` file: the
    ``Boundaries`` field of each cell of ``groundTruth``."""
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise ImportError(MAT_HINT) from exc
    data = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    if "groundTruth" not in data:
        raise InputValueError(f"{path}: expected a BSDS file with a 'groundTruth' cell array, got the variables "
                              f"{sorted(k for k in data if not k.startswith('__'))}")
    maps = []
    for i, cell in enumerate(np.atleast_1d(data["groundTruth"])):
        boundaries = getattr(cell, "Boundaries", None)
        if boundaries is None or np.ndim(boundaries) != 2:
            raise InputValueError(f"{path}: groundTruth{{{i + 1}}} has no 2-D 'Boundaries' field")
        maps.append(np.asarray(boundaries) != 0)
    if not maps:
        raise InputValueError(f"{path}: the groundTruth cell array is empty")
    return maps


def _plain_map(path: Path) -> np.ndarray:
    array = read_array(path)
    if array.ndim == 3:
        array = array.max(axis=2)
    return array != 0


def read_boundary_gt(folder: str | Path, stem: str) -> list[np.ndarray]:
    """Ground-truth boundary maps of image ``stem`` in ``folder`` (nonzero = boundary):

    ``stem.png`` (one annotator), ``stem_0.png, stem_1.png, ...`` (one per annotator) or ``stem.mat``
    (BSDS500, every annotator of the file). Exactly one of these forms must be present.
    """
    folder = Path(folder)
    numbered = re.compile(re.escape(stem) + r"_(\d+)")
    found = [[p] for p in (folder / f"{stem}.png", folder / f"{stem}.mat") if p.is_file()]
    several = sorted((p for p in folder.glob(f"{glob.escape(stem)}_*.png") if numbered.fullmatch(p.stem)),
                     key=lambda p: int(numbered.fullmatch(p.stem).group(1)))
    found += [several] if several else []
    if len(found) != 1:
        got = ", ".join(p.name for paths in found for p in paths) or "nothing"
        raise FileNotFoundError(f"{folder}: expected one ground truth for {stem!r} ({stem}.png, {stem}_0.png "
                                f"{stem}_1.png ..., or {stem}.mat), found {got}")
    paths = found[0]
    return read_bsds_mat(paths[0]) if paths[0].suffix == ".mat" else [_plain_map(p) for p in paths]


def load_edge_dataset(images: str | Path, gt: str | Path) -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    """``(name, image, ground-truth maps)`` for every 8-bit gray or BGR image of a folder, sorted by
    name, with its ground truth from :func:`read_boundary_gt`.

    Raises:
        FileNotFoundError: no images, or an image without ground truth.
        InputShapeError: a ground-truth map whose size differs from its image's.
        InputDtypeError: an image that is not 8-bit.
    """
    paths = sorted(p for p in Path(images).iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES - {".npy"} and not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"no images in {images}")
    dataset = []
    for path in paths:
        name, image = path.name, read_array(path)
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise InputDtypeError(f"{name}: evaluation images must be 8-bit gray or BGR, got {image.dtype} "
                                  f"of shape {image.shape}")
        maps = read_boundary_gt(gt, Path(name).stem)
        for i, m in enumerate(maps):
            if m.shape != image.shape[:2]:
                raise InputShapeError(f"{name}: ground truth {i} is {m.shape[0]}x{m.shape[1]}, expected the "
                                      f"image's {image.shape[0]}x{image.shape[1]}")
        dataset.append((name, image, maps))
    return dataset
