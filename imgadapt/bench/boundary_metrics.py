"""BSDS-style boundary evaluation: ODS, OIS and AP of boundary maps against one or more annotators.

The protocol follows the BSDS500 benchmark (``evaluation_bdry_image``, ``correspondPixels``,
``collect_eval_bdry``), for each image and each *level* (a threshold of a probability map, or one
setting of a detector swept from permissive to strict):

1. the binary map at that level is thinned to one pixel (:func:`thin`, MATLAB ``bwmorph thin``);
2. it is matched one-to-one against every annotator's boundary map separately: a predicted and a
   ground-truth pixel may be paired when their distance is at most ``max_dist`` times the image
   diagonal (0.0075 in BSDS), and the number of pairs is a maximum bipartite matching
   (:func:`correspond_pixels`);
3. counts: ``cnt_r`` = ground-truth pixels matched, summed over annotators; ``sum_r`` = ground-truth
   pixels, summed over annotators; ``cnt_p`` = predicted pixels matched to at least one annotator;
   ``sum_p`` = predicted pixels. Recall ``R = cnt_r / sum_r``, precision ``P = cnt_p / sum_p``
   (0 when the denominator is 0), ``F = 2PR / (P + R)`` (0 when ``P + R = 0``).

Dataset scores (:func:`boundary_scores`), from the per-image counts:

- **ODS**: counts summed over all images at each level; the best F over levels (one level for the
  whole dataset). BSDS also interpolates between adjacent thresholds, which can only raise the
  figure slightly; here the best of the measured levels is reported.
- **OIS**: each image's best level (highest F of its own counts, the lowest level on ties); the
  counts at those levels summed over images; the F of these sums.
- **AP**: precision against recall of the dataset-wide counts; for equal recalls the highest
  precision is kept; precision is linearly interpolated at recall 0, 0.01, ..., 1 (0 outside the
  measured recall range) and AP is 0.01 times the sum of the 101 values, as BSDS computes
  ``Area_PR``. A curve with fewer than two distinct recalls has AP 0, as in BSDS.

BSDS pairs pixels with a min-cost assignment that has a high cost for unmatched pixels, on a
sparsified graph; the maximum matching used here is the largest possible number of pairs, which that
assignment approximates. scipy (``peers`` or ``dev`` extra) is needed for the matching.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..errors import InputDtypeError, InputShapeError, InputSizeError, InputValueError

BSDS_MAX_DIST = 0.0075
BSDS_THRESHOLDS = 99
SCIPY_HINT = 'boundary evaluation needs scipy: pip install "imgadapt[peers]" (or pip install scipy)'

# Correlation kernel giving each pixel the 8-bit code of its neighbours x1..x8, counter-clockwise
# from the east (bit k-1 = x_k), the order of Lam, Lee & Suen's thinning conditions.
_NEIGHBOUR_CODE = np.array([[8, 4, 2], [16, 0, 1], [32, 64, 128]], np.float32)


def _thinning_luts() -> tuple[np.ndarray, np.ndarray]:
    """Deletion tables of the two sub-iterations of MATLAB's ``bwmorph(..., 'thin')`` (Lam, Lee &
    Suen 1992): a pixel goes when G1 (one 8-connected crossing), G2 (2 <= min(n1, n2) <= 3) and G3,
    ``(x2 | x3 | ~x8) & x1 == 0`` (first sub-iteration) or G3', ``(x6 | x7 | ~x4) & x5 == 0``
    (second), hold for its neighbourhood."""
    first, second = np.zeros(256, np.uint8), np.zeros(256, np.uint8)
    for code in range(256):
        x = [None] + [(code >> k) & 1 for k in range(8)] + [code & 1]  # x[1..8], x[9] = x[1]
        crossings = sum(1 for i in range(1, 5) if not x[2 * i - 1] and (x[2 * i] or x[2 * i + 1]))
        n1 = sum(x[2 * k - 1] | x[2 * k] for k in range(1, 5))
        n2 = sum(x[2 * k] | x[2 * k + 1] for k in range(1, 5))
        if crossings != 1 or not 2 <= min(n1, n2) <= 3:
            continue
        first[code] = not ((x[2] or x[3] or not x[8]) and x[1])
        second[code] = not ((x[6] or x[7] or not x[4]) and x[5])
    return first, second


_THIN_LUTS = _thinning_luts()


def thin(mask: np.ndarray) -> np.ndarray:
    """Thin a binary map to one-pixel-wide, 8-connected curves (MATLAB ``bwmorph(mask, 'thin', inf)``).

    Args:
        mask: ``HxW`` array, nonzero = on.

    Returns:
        ``HxW`` bool array; ends of curves and isolated pixels are kept.
    """
    img = (_as_map(mask, "mask") != 0).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for lut in _THIN_LUTS:
            code = cv2.filter2D(img, -1, _NEIGHBOUR_CODE, borderType=cv2.BORDER_CONSTANT)
            delete = cv2.LUT(code, lut) & img
            if delete.any():
                img -= delete
                changed = True
    return img.astype(bool)


def _as_map(x, what: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise InputDtypeError(f"{what}: expected a numpy.ndarray, got {type(x).__name__}")
    if x.dtype.kind not in "buif":
        raise InputDtypeError(f"{what}: expected a bool, integer or float array, got {x.dtype}")
    if x.ndim != 2:
        raise InputShapeError(f"{what}: expected an HxW map, got shape {x.shape}")
    if x.size == 0:
        raise InputSizeError(f"{what}: expected a non-empty map, got shape {x.shape}")
    return x


def _max_flow():
    try:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import maximum_flow
    except ImportError as exc:
        raise ImportError(SCIPY_HINT) from exc
    return csr_matrix, maximum_flow


def _offsets(radius: float) -> list[tuple[int, int]]:
    r = int(np.floor(radius))
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= radius * radius]


def correspond_pixels(pred: np.ndarray, gt: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of predicted to ground-truth boundary pixels (BSDS ``correspondPixels``).

    Every pair of a predicted and a ground-truth pixel at most ``radius`` pixels apart is an edge of
    a bipartite graph; the pairs kept are a maximum matching of that graph, so two predicted pixels
    never share one ground-truth pixel (nor the reverse).

    Args:
        pred, gt: ``HxW`` binary maps of the same shape (nonzero = boundary).
        radius: largest matching distance in pixels.

    Returns:
        ``(pred_matched, gt_matched)``: bool maps of the pixels that found a partner.
    """
    pred, gt = _as_map(pred, "pred") != 0, _as_map(gt, "gt") != 0
    if pred.shape != gt.shape:
        raise InputShapeError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    if not np.isfinite(radius) or radius < 0:
        raise InputValueError(f"radius: expected a finite distance >= 0 in pixels, got {radius}")
    pred_matched, gt_matched = np.zeros_like(pred), np.zeros_like(gt)
    py, px = np.nonzero(pred)
    gy, gx = np.nonzero(gt)
    if not len(py) or not len(gy):
        return pred_matched, gt_matched
    csr_matrix, maximum_flow = _max_flow()
    h, w = gt.shape
    index = np.full((h, w), -1, np.int64)
    index[gy, gx] = np.arange(len(gy))
    rows, cols = [], []
    for dy, dx in _offsets(radius):
        y, x = py + dy, px + dx
        inside = np.flatnonzero((y >= 0) & (y < h) & (x >= 0) & (x < w))
        j = index[y[inside], x[inside]]
        hit = j >= 0
        rows.append(inside[hit])
        cols.append(j[hit])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    # A maximum matching as a unit-capacity maximum flow, source -> predicted -> ground truth -> sink,
    # by Dinic's algorithm: scipy's maximum_bipartite_matching (Hopcroft-Karp) can take exponential
    # time on the chain-like graphs of boundaries (scipy issue 26147).
    n, k = len(py), len(gy)
    source, sink = 0, n + k + 1
    tail = np.concatenate([np.full(n, source), rows + 1, np.arange(k) + n + 1])
    head = np.concatenate([np.arange(n) + 1, cols + n + 1, np.full(k, sink)])
    graph = csr_matrix((np.ones(len(tail), np.int32), (tail, head)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, source, sink, method="dinic").flow.tocoo()
    used = (flow.data > 0) & (flow.row >= 1) & (flow.row <= n) & (flow.col > n) & (flow.col <= n + k)
    p_idx, g_idx = flow.row[used] - 1, flow.col[used] - n - 1
    pred_matched[py[p_idx], px[p_idx]] = True
    gt_matched[gy[g_idx], gx[g_idx]] = True
    return pred_matched, gt_matched


def bsds_thresholds(n: int = BSDS_THRESHOLDS) -> np.ndarray:
    """``n`` evenly spaced thresholds strictly inside (0, 1): 0.01, 0.02, ..., 0.99 for 99."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputValueError(f"thresholds: expected a count >= 1 or a sequence of values, got {n!r}")
    return np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), n)


def check_probability(prob: np.ndarray, what: str = "prob") -> np.ndarray:
    """Return a boundary probability map unchanged if it is a finite ``HxW`` float map in [0, 1]."""
    prob = _as_map(prob, what)
    if prob.dtype.kind != "f":
        raise InputDtypeError(f"{what}: expected a float32/float64 probability map in [0, 1], got {prob.dtype}")
    if not np.isfinite(prob).all():
        raise InputValueError(f"{what}: expected finite values, got NaN or inf")
    lo, hi = float(prob.min()), float(prob.max())
    if lo < 0 or hi > 1:
        raise InputValueError(f"{what}: expected values in [0, 1], got the range [{lo:g}, {hi:g}]")
    return prob


def threshold_levels(prob: np.ndarray, thresholds: int | Sequence[float] = BSDS_THRESHOLDS) -> Iterator[np.ndarray]:
    """The binary maps ``prob >= t`` for each threshold (a count means :func:`bsds_thresholds`)."""
    prob = check_probability(prob)
    values = bsds_thresholds(thresholds) if np.ndim(thresholds) == 0 else np.asarray(thresholds, np.float64)
    for t in values:
        yield prob >= t


def level_counts(levels: Iterable[np.ndarray], gts: Sequence[np.ndarray], max_dist: float = BSDS_MAX_DIST,
                 thinning: bool = True) -> np.ndarray:
    """BSDS counts of one image at each level.

    Args:
        levels: binary maps of one image, one per level (thresholds or detector settings).
        gts: the annotators' boundary maps (nonzero = boundary), each of the image's shape.
        max_dist: matching distance as a fraction of the image diagonal.
        thinning: thin each binary map first (BSDS ``thinpb``).

    Returns:
        int64 array of shape ``(levels, 4)``: ``cnt_r, sum_r, cnt_p, sum_p`` (see the module).
    """
    if isinstance(gts, np.ndarray) or not len(gts):
        raise InputValueError("gts: expected a non-empty list of ground-truth maps (one per annotator)")
    gts = [_as_map(g, f"gts[{i}]") != 0 for i, g in enumerate(gts)]
    shape = gts[0].shape
    for i, g in enumerate(gts):
        if g.shape != shape:
            raise InputShapeError(f"gts[{i}]: expected the shape {shape} of the other annotators, got {g.shape}")
    radius = max_dist * float(np.hypot(*shape))
    rows = []
    for k, level in enumerate(levels):
        level = _as_map(level, f"level {k}")
        if level.shape != shape:
            raise InputShapeError(f"level {k}: expected the ground truth's shape {shape}, got {level.shape}")
        pred = thin(level) if thinning else level != 0
        any_match = np.zeros(shape, bool)
        cnt_r = sum_r = 0
        for g in gts:
            pred_matched, gt_matched = correspond_pixels(pred, g, radius)
            any_match |= pred_matched
            cnt_r += int(gt_matched.sum())
            sum_r += int(g.sum())
        rows.append((cnt_r, sum_r, int(any_match.sum()), int(pred.sum())))
    if not rows:
        raise InputSizeError("levels: expected at least one binary map")
    return np.array(rows, np.int64).reshape(-1, 4)


def _prf(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.asarray(counts, np.float64)
    r = counts[..., 0] / np.maximum(counts[..., 1], 1)
    p = counts[..., 2] / np.maximum(counts[..., 3], 1)
    f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    return p, r, f


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under a precision-recall curve, interpolated at recall 0, 0.01, ..., 1 as BSDS does."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    distinct = np.unique(recall)
    if len(distinct) < 2:
        return 0.0
    best = np.array([precision[recall == r].max() for r in distinct])
    grid = np.linspace(0.0, 1.0, 101)
    values = np.interp(grid, distinct, best)
    values[(grid < distinct[0]) | (grid > distinct[-1])] = 0.0
    return float(values.sum() * 0.01)


def boundary_scores(counts: Sequence[np.ndarray]) -> dict:
    """ODS, OIS and AP of a dataset from its per-image :func:`level_counts` (see the module).

    Args:
        counts: one ``(levels, 4)`` array per image, all with the same levels.

    Returns:
        ``ods``, ``ods_level`` (index of the dataset-wide best level), ``ods_precision``,
        ``ods_recall``, ``ois``, ``ap``, ``best_levels`` (each image's best level) and
        ``image_f`` (each image's F at its best level).
    """
    counts = [np.asarray(c, np.int64) for c in counts]
    if not counts:
        raise InputSizeError("counts: expected the counts of at least one image")
    if any(c.ndim != 2 or c.shape[1] != 4 or c.shape != counts[0].shape for c in counts):
        raise InputShapeError(f"counts: expected (levels, 4) arrays of one shape, got {[c.shape for c in counts]}")
    stack = np.stack(counts)
    p, r, f = _prf(stack.sum(axis=0))
    ods_level = int(np.argmax(f))
    _, _, image_f = _prf(stack)
    best_levels = np.argmax(image_f, axis=1)
    _, _, ois = _prf(stack[np.arange(len(stack)), best_levels].sum(axis=0))
    return {"ods": float(f[ods_level]), "ods_level": ods_level, "ods_precision": float(p[ods_level]),
            "ods_recall": float(r[ods_level]), "ois": float(ois), "ap": average_precision(p, r),
            "best_levels": [int(b) for b in best_levels],
            "image_f": [float(image_f[i, b]) for i, b in enumerate(best_levels)]}


def evaluate_boundaries(probs: Sequence[np.ndarray], gts: Sequence[Sequence[np.ndarray]],
                        thresholds: int | Sequence[float] = BSDS_THRESHOLDS, max_dist: float = BSDS_MAX_DIST,
                        thinning: bool = True) -> dict:
    """ODS, OIS and AP of boundary probability maps (:func:`boundary_scores` at ``thresholds``).

    Args:
        probs: one float ``HxW`` map in [0, 1] per image.
        gts: per image, the list of its annotators' boundary maps.
        thresholds: a count (evenly spaced, BSDS: 99) or the threshold values, ascending.
    """
    if len(probs) != len(gts):
        raise InputSizeError(f"expected one ground-truth list per map, got {len(probs)} maps and {len(gts)} lists")
    counts = [level_counts(threshold_levels(p, thresholds), g, max_dist, thinning) for p, g in zip(probs, gts)]
    return boundary_scores(counts)
