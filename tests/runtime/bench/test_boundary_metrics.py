import numpy as np
import pytest

pytest.importorskip("scipy", reason="boundary matching needs scipy (dev extra)")

from imgadapt.bench import boundary_metrics as bm
from imgadapt.errors import InputDtypeError, InputShapeError, InputValueError


def line(shape=(200, 200), row=100, cols=(50, 150)):
    m = np.zeros(shape, bool)
    m[row, cols[0]:cols[1]] = True
    return m


def counts(pred, gts, **kw):
    (c,) = bm.level_counts([pred], gts, **kw)
    return tuple(int(v) for v in c)


def test_perfect_prediction_scores_one():
    gt = line()
    scores = bm.evaluate_boundaries([gt.astype(np.float32)], [[gt]])
    assert scores["ods"] == scores["ois"] == 1.0
    assert scores["ods_precision"] == scores["ods_recall"] == 1.0
    assert scores["ap"] == 0.0  # one point on the PR curve has no area (as in BSDS)


def test_shift_within_tolerance_matches_and_beyond_does_not():
    gt = line()  # 200x200: the tolerance is 0.0075 * 282.8 = 2.12 px
    assert counts(np.roll(gt, 2, axis=0), [gt]) == (100, 100, 100, 100)
    assert counts(np.roll(gt, 3, axis=0), [gt]) == (0, 100, 0, 100)
    # shifted 2 down and 50 right: the 50 overlapping columns match; the next pixel is sqrt(5) px away
    assert counts(np.roll(np.roll(gt, 2, axis=0), 50, axis=1), [gt]) == (50, 100, 50, 100)


def test_thick_prediction_is_thinned():
    gt = line()
    thick = np.zeros_like(gt)
    thick[99:102, 50:150] = True
    thinned = bm.thin(thick)
    assert set(np.nonzero(thinned)[0]) == {100} and 90 < thinned.sum() <= 100
    cnt_r, _, cnt_p, sum_p = counts(thick, [gt])
    assert cnt_p == sum_p == thinned.sum() and cnt_r == cnt_p
    assert counts(thick, [gt], thinning=False)[2:] == (100, 300)


def test_thinning_keeps_isolated_pixels_and_line_ends():
    m = np.zeros((9, 9), bool)
    m[1, 1] = True
    m[5, 2:8] = True
    np.testing.assert_array_equal(bm.thin(m), m)


def test_matching_is_one_to_one():
    gt = np.zeros((200, 200), bool)
    gt[100, 100] = True
    pred = np.zeros_like(gt)
    pred[100, 99] = pred[100, 101] = True  # both within 1 px of the single ground-truth pixel
    assert counts(pred, [gt]) == (1, 1, 1, 2)
    assert counts(gt, [pred]) == (1, 2, 1, 1)


def test_matching_finds_the_maximum_not_a_greedy_pairing():
    # p0 reaches g0 and g1, p1 only g0: pairing p0-g0 first would leave p1 alone.
    gt = np.zeros((200, 200), bool)
    gt[100, 100] = gt[100, 102] = True
    pred = np.zeros_like(gt)
    pred[100, 101] = pred[100, 98] = True
    pred_m, gt_m = bm.correspond_pixels(pred, gt, radius=2.0)
    assert pred_m.sum() == gt_m.sum() == 2


@pytest.mark.parametrize("seed", range(4))
def test_matching_size_equals_hopcroft_karp_on_random_maps(seed):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    rng = np.random.default_rng(seed)
    pred, gt = rng.random((40, 50)) < 0.08, rng.random((40, 50)) < 0.05
    radius = 2.0
    pred_m, gt_m = bm.correspond_pixels(pred, gt, radius)
    assert not (pred_m & ~pred).any() and not (gt_m & ~gt).any()
    # the reference: scipy's Hopcroft-Karp on the same graph (fast on small random graphs)
    py, px = np.nonzero(pred)
    gy, gx = np.nonzero(gt)
    near = (py[:, None] - gy[None]) ** 2 + (px[:, None] - gx[None]) ** 2 <= radius ** 2
    size = int((maximum_bipartite_matching(csr_matrix(near.astype(np.int8)), perm_type="column") >= 0).sum())
    assert pred_m.sum() == gt_m.sum() == size > 0


def test_matching_of_a_chain_graph_that_stalls_hopcroft_karp_is_fast():
    # A thinned boundary map of a model at one threshold and its ground truth (320x320) on which
    # scipy's maximum_bipartite_matching took 19 s to find its 899 pairs (scipy issue 26147).
    import time
    from pathlib import Path

    data = np.load(Path(__file__).parent / "fixtures" / "chain_matching.npz")
    shape = tuple(data["shape"])
    pred, gt = (np.unpackbits(data[k])[:shape[0] * shape[1]].reshape(shape).astype(bool) for k in ("pred", "gt"))
    bm.correspond_pixels(pred[:8, :8], gt[:8, :8], 2.0)  # scipy's import outside the timing
    start = time.perf_counter()
    pred_m, gt_m = bm.correspond_pixels(pred, gt, 0.0075 * np.hypot(*shape))
    assert time.perf_counter() - start < 2.0
    assert pred_m.sum() == gt_m.sum() == 899


def test_two_annotators():
    a, b = line(row=60), line(row=140)
    assert counts(a, [a, b]) == (100, 200, 100, 100)  # recall over both, precision against either
    assert counts(a | b, [a, b]) == (200, 200, 200, 200)
    assert counts(a, [a, a]) == (200, 200, 100, 100)


def test_ods_and_ois_of_two_images_by_hand():
    # 40x40: the tolerance is 0.42 px, so only exact positions match.
    gt = line((40, 40), 10, (5, 15))
    far = line((40, 40), 30, (5, 15))
    image_a = np.where(gt, 0.6, np.where(far, 0.4, 0.0)).astype(np.float32)  # best at t = 0.5
    image_b = np.where(gt, 0.3, np.where(far, 0.6, 0.0)).astype(np.float32)  # best at t = 0.25
    s = bm.evaluate_boundaries([image_a, image_b], [[gt], [gt]], thresholds=[0.25, 0.5, 0.75])
    # dataset-wide: t=0.25 R=20/20 P=20/40 F=2/3; t=0.5 R=10/20 P=10/20 F=1/2; t=0.75 F=0
    assert s["ods"] == pytest.approx(2 / 3) and s["ods_level"] == 0
    # per image: a at 0.5 (10/10, 10/10), b at 0.25 (10/10, 10/20): R=20/20, P=20/30, F=0.8
    assert s["best_levels"] == [1, 0] and s["image_f"] == pytest.approx([1.0, 2 / 3])
    assert s["ois"] == pytest.approx(0.8)
    # PR points (R, P): (1, .5), (.5, .5), (0, 0); 101-point interpolation
    assert s["ap"] == pytest.approx(0.01 * (sum(0.5 * i / 50 for i in range(51)) + 50 * 0.5))


def test_bsds_thresholds():
    t = bm.bsds_thresholds()
    assert len(t) == 99 and t[0] == pytest.approx(0.01) and t[-1] == pytest.approx(0.99)


@pytest.mark.parametrize("prob, error, message", [
    (np.full((8, 8), 1.5, np.float32), InputValueError, r"values in \[0, 1\], got the range \[1.5, 1.5\]"),
    (np.full((8, 8), np.nan, np.float32), InputValueError, "finite"),
    (np.zeros((8, 8), np.uint8), InputDtypeError, "float32/float64 probability map in .*, got uint8"),
    (np.zeros((8, 8, 3), np.float32), InputShapeError, r"HxW map, got shape \(8, 8, 3\)"),
])
def test_bad_probability_maps_are_refused(prob, error, message):
    with pytest.raises(error, match=message):
        bm.evaluate_boundaries([prob], [[np.zeros((8, 8), bool)]])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"ground truth's shape \(8, 8\), got \(8, 9\)"):
        bm.level_counts([np.zeros((8, 9), bool)], [np.zeros((8, 8), bool)])
    with pytest.raises(ValueError, match="one per annotator"):
        bm.level_counts([np.zeros((8, 8), bool)], [])


def test_missing_scipy_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r"imgadapt\[peers\]"):
        bm.correspond_pixels(line(), line(), 2.0)
