"""Faithfulness bounds: hand numbers, Thm 4.1 (derived and Eq. 9 as printed), and the paper's Sec. 3.3 simulations."""
import math

import numpy as np
import pytest
from scipy.stats import binom

from neurodash.stats import bounds as B
from neurodash.stats.metrics import similarity


def masks():
    # n = 10; f active on rows 0-3 (|f| = 4); concept 0 on rows 2-6 (|c| = 5, |f∧c| = 2, |f∨c| = 7);
    # concept 1 on nothing.
    f = np.zeros(10, bool)
    f[:4] = True
    c = np.zeros((10, 2), bool)
    c[2:7, 0] = True
    return f, c


def hand_rate(m, delta):
    return math.sqrt(math.log(2 / delta) / (2 * m))


@pytest.mark.parametrize("metric,m", [("accuracy", 10), ("recall", 4), ("precision", 5), ("iou", 7),
                                      ("auroc", 0.4 * 0.6 * 10), ("inverse_auroc", 0.5 * 0.5 * 10)])
def test_rates_by_hand(metric, m):
    f, c = masks()
    r = B.convergence_rate(metric, f, c[:, 0], 0.05)
    assert isinstance(r, float)
    assert r == pytest.approx(hand_rate(m, 0.05), rel=1e-12)
    # accuracy with n = 10, δ = 0.05: sqrt(log(40) / 20) = 0.429469…
    if metric == "accuracy":
        assert r == pytest.approx(0.429469, abs=1e-6)


def test_rate_matrix_zero_sizes_and_metrics_without_rate():
    f, c = masks()
    F = np.stack([f, ~f], axis=1)
    r = B.convergence_rate("precision", F, c, 0.1)
    assert r.shape == (2, 2)
    assert r[0, 0] == pytest.approx(hand_rate(5, 0.1))
    assert math.isinf(r[0, 1])  # no concept-present rows: no guarantee at all
    assert np.isnan(B.convergence_rate("pearson", F, c, 0.1)).all()
    assert math.isinf(B.convergence_rate("inverse_auroc", f, c[:, 1], 0.1))


def test_union_bound_and_band():
    f, c = masks()
    assert B.union_delta(0.05, 1000) == pytest.approx(5e-5)
    band = B.band("recall", f, c[:, 0], 0.05, 1000)
    assert band == pytest.approx(2 * hand_rate(4, 0.05 / 1000))
    with pytest.raises(ValueError):
        B.union_delta(0.05, 0)
    with pytest.raises(ValueError):
        B.convergence_rate("accuracy", f, c[:, 0], 0.0)


def test_error_probability_solves_the_rate_equation():
    # p solves r(m, p/|C|) = Δ/2 → p = 2|C| exp(−m Δ² / 2); check by plugging back in
    n = 20000
    f = np.zeros(n, bool)
    f[:200] = True
    c = np.zeros(n, bool)
    c[100:400] = True
    p = B.error_probability("accuracy", f, c, 0.05, 50)
    assert p == pytest.approx(2 * 50 * math.exp(-n * 0.05 ** 2 / 2))
    assert hand_rate(n, p / 50) == pytest.approx(0.05 / 2)
    # too small a gap or probe: clipped to 1 (vacuous)
    assert B.error_probability("recall", f, c, 0.01, 50) == 1.0
    assert B.error_probability("iou", f, c, 0.0, 50) == 1.0
    assert np.isnan(B.error_probability("f1", f, c, 0.1, 50))


def test_coverage_lower_bound_as_derived_by_hand():
    # K = 5, p = 0.1: P(Bin(5, 0.1) ≤ k(S) − 1); terms 0.9^5 = 0.59049, 5·0.1·0.9^4 = 0.32805,
    # 10·0.01·0.9^3 = 0.0729, 10·0.001·0.9^2 = 0.0081, 5·0.0001·0.9 = 0.00045, 0.1^5 = 0.00001
    assert B.coverage_lower_bound(5, 3, 0.1) == pytest.approx(0.59049 + 0.32805 + 0.0729, rel=1e-12)
    assert B.coverage_lower_bound(5, 1, 0.1) == pytest.approx(0.59049, rel=1e-12)
    assert B.coverage_lower_bound(5, 0, 0.1) == 0.0  # an empty set covers nothing
    # k(S) = K (the set holds every winner): 1 − p^K, close to 1 for a small p
    assert B.coverage_lower_bound(5, 5, 0.1) == pytest.approx(1 - 1e-5, rel=1e-12)
    assert B.coverage_lower_bound(100, 100, 0.02) == pytest.approx(1.0, abs=1e-15)
    K, k_S, p = 100, 96, 0.02
    by_hand = sum(math.comb(K, i) * p ** i * (1 - p) ** (K - i) for i in range(k_S))
    assert B.coverage_lower_bound(K, k_S, p) == pytest.approx(by_hand, rel=1e-12)
    # grows with the set
    vals = [B.coverage_lower_bound(20, k, 0.3) for k in range(21)]
    assert np.all(np.diff(vals) > 0)


def test_coverage_lower_bound_printed_is_eq9():
    # K = 5, p = 0.1, k(S) = 3: Σ_{i=0}^{5−3−1=1} = 0.59049 + 0.32805
    assert B.coverage_lower_bound_printed(5, 3, 0.1) == pytest.approx(0.91854, rel=1e-12)
    assert B.coverage_lower_bound_printed(5, 4, 0.1) == pytest.approx(0.59049, rel=1e-12)
    assert B.coverage_lower_bound_printed(5, 5, 0.1) == 0.0  # k(S) = K: the empty sum as printed
    assert B.coverage_lower_bound_printed(100, 100, 0.02) == 0.0
    K, k_S, p = 100, 96, 0.02
    by_hand = sum(math.comb(K, i) * p ** i * (1 - p) ** (K - i) for i in range(K - k_S - 1 + 1))
    assert B.coverage_lower_bound_printed(K, k_S, p) == pytest.approx(by_hand, rel=1e-12)
    assert B.coverage_lower_bound_printed(K, k_S, p) == pytest.approx(binom.cdf(3, 100, 0.02))
    # falls as the set grows (the contradiction with its own derivation)
    vals = [B.coverage_lower_bound_printed(20, k, 0.3) for k in range(20)]
    assert np.all(np.diff(vals) < 0)


@pytest.mark.parametrize("bound", [B.coverage_lower_bound, B.coverage_lower_bound_printed])
def test_coverage_bounds_edge_cases(bound):
    assert bound(100, 95, 1.0) == 0.0  # p ≥ 1: vacuous
    assert bound(100, 95, 1.5) == 0.0
    assert math.isnan(bound(100, 95, float("nan")))  # metric without a rate
    assert math.isnan(bound(100, 95, np.float64("nan")))
    with pytest.raises(ValueError):
        bound(10, 11, 0.1)
    with pytest.raises(ValueError):
        bound(10, -1, 0.1)
    assert bound(10, 5, 0.0) == 1.0  # p = 0: every trial finds c*; both forms give 1 here


def test_coverage_lower_bound_printed_is_eq9_as_printed():
    K, k_S, p = 100, 96, 0.02
    by_hand = sum(math.comb(K, i) * p ** i * (1 - p) ** (K - i) for i in range(K - k_S - 1 + 1))
    assert B.coverage_lower_bound_printed(K, k_S, p) == pytest.approx(by_hand, rel=1e-12)
    assert B.coverage_lower_bound_printed(K, k_S, p) == pytest.approx(binom.cdf(3, 100, 0.02))
    assert B.coverage_lower_bound_printed(K, K, p) == 0.0  # empty sum as printed
    assert B.coverage_lower_bound_printed(K, 95, 1.0) == 0.0  # vacuous
    assert B.coverage_lower_bound_printed(10, 5, 0.0) == 1.0
    with pytest.raises(ValueError):
        B.coverage_lower_bound_printed(10, 11, 0.1)


def test_coverage_lower_bound_is_the_derived_form():
    # Appendix A, Eq. 16: P(c* in S) >= P(Bin(K, p) <= k(S) - 1)
    K, k_S, p = 100, 96, 0.02
    by_hand = sum(math.comb(K, i) * p ** i * (1 - p) ** (K - i) for i in range(k_S))
    assert B.coverage_lower_bound(K, k_S, p) == pytest.approx(by_hand, rel=1e-12)
    assert B.coverage_lower_bound(K, k_S, p) > 0.999999
    # the set holding every winner is the most stable case: the derived bound is near 1, the
    # printed form 0
    assert B.coverage_lower_bound(K, K, p) == pytest.approx(1 - p ** K, rel=1e-12)
    assert B.coverage_lower_bound_printed(K, K, p) == 0.0
    # small hand case: K = 3, k(S) = 2, p = 0.5 -> P(Bin(3, .5) <= 1) = (1 + 3) / 8
    assert B.coverage_lower_bound(3, 2, 0.5) == pytest.approx(0.5)
    assert B.coverage_lower_bound(3, 0, 0.1) == 0.0  # an empty set covers nothing
    assert B.coverage_lower_bound(K, 95, 1.0) == 0.0  # vacuous
    assert math.isnan(B.coverage_lower_bound(K, 95, float("nan")))
    # it grows with the set
    vals = [B.coverage_lower_bound(50, k, 0.3) for k in range(0, 51, 5)]
    assert all(a <= b for a, b in zip(vals, vals[1:]))
    with pytest.raises(ValueError):
        B.coverage_lower_bound(10, 11, 0.1)


def test_planner_probe_size_reaches_the_band():
    kw = dict(concept_freq=0.02, alpha=0.01, n_concepts=1000, delta=0.05)
    for metric in ("accuracy", "recall", "precision", "iou", "auroc"):
        n = B.probe_size_for_band(metric, 0.1, **kw)
        assert B.planner_rates(metric, [n], **kw)[0] <= 0.1 < B.planner_rates(metric, [n - 1], **kw)[0]
    # accuracy needs m ≥ 2 log(2|C|/δ) / target² = 2 log(40000)/0.01 ≈ 2119.4 images
    assert B.probe_size_for_band("accuracy", 0.1, **kw) == 2120
    # recall's effective size is the neuron's active count ⌈0.01 n⌉: ~100× more images
    assert B.probe_size_for_band("recall", 0.1, **kw) > 200000
    assert B.probe_size_for_band("f1", 0.1, **kw) is None
    rates = B.planner_rates("iou", [1000, 4000, 16000], **kw)
    assert np.all(np.diff(rates) < 0)
    assert rates[0] / rates[2] == pytest.approx(4.0, rel=0.02)  # 1/√n


# --- Sec. 3.3, Experiment 1: 95% error quantile vs the rate, for both M matrices -------------

SETTINGS = {  # M[f][c] = P(f(x) = i, c(x) = j)
    "regular": np.array([[0.93, 0.02], [0.02, 0.03]]),
    "rare": np.array([[0.9499, 0.0001], [0.0491, 0.0009]]),
}


def true_values(M):
    p_f, p_c = M[1].sum(), M[:, 1].sum()
    tpr, fpr = M[1, 1] / p_f, M[0, 1] / (1 - p_f)
    return {"accuracy": M[0, 0] + M[1, 1], "recall": M[1, 1] / p_f, "precision": M[1, 1] / p_c,
            "iou": M[1, 1] / (M[1, 1] + M[0, 1] + M[1, 0]), "auroc": (1 + tpr - fpr) / 2}


def expected_rate(metric, M, n, delta=0.05):
    p_f, p_c = M[1].sum(), M[:, 1].sum()
    return B.rate_from_counts(metric, n, p_f * n, p_c * n, (1 - M[0, 0]) * n, delta)


def experiment1(M, n, reps, rng):
    """`reps` probe datasets of size n drawn from M; each replicate is one neuron column and one
    concept column, so one similarity call scores all of them (we read the diagonal)."""
    cells = rng.choice(4, size=(n, reps), p=M.ravel())
    f = (cells >= 2).astype(np.float32)
    c = (cells % 2 == 1).astype(np.float32)
    errs = {}
    for metric, truth in true_values(M).items():
        est = np.diagonal(similarity(f, c, metric, alpha=1e-9))  # α → 1 row: ties give f exactly
        errs[metric] = np.nanquantile(np.abs(est - truth), 0.95)
    return errs


@pytest.mark.parametrize("setting,sizes", [("regular", (1000, 4000, 16000)), ("rare", (16000, 64000))])
def test_experiment1_error_quantile_under_rate_and_shrinking(setting, sizes):
    M = SETTINGS[setting]
    rng = np.random.default_rng(0)
    q = {n: experiment1(M, n, 120, rng) for n in sizes}
    for n in sizes:
        for metric, err in q[n].items():
            assert err <= expected_rate(metric, M, n), (setting, n, metric, err)
    for metric in true_values(M):
        ratio = q[sizes[-1]][metric] / q[sizes[0]][metric]
        expected = math.sqrt(sizes[0] / sizes[-1])
        assert 0.55 * expected < ratio < 1.6 * expected, (setting, metric, ratio)
    if setting == "rare":  # the paper's point: AUROC and recall are slow for a rare concept
        n = sizes[-1]
        assert q[n]["accuracy"] < q[n]["precision"]
        assert expected_rate("auroc", M, n) > expected_rate("accuracy", M, n)


# --- Sec. 3.3, Experiment 2: the identification gap falls with n -----------------------------

def experiment2(n, n_concepts, reps, rng):
    p_f = 0.05
    freq = np.exp(rng.uniform(np.log(1e-4), np.log(1e-1), n_concepts))
    m11 = rng.uniform(0, np.minimum(p_f, freq))
    gaps = {m: [] for m in ("accuracy", "iou", "auroc")}
    M_all = np.stack([np.stack([1 - p_f - freq + m11, freq - m11], 1), np.stack([p_f - m11, m11], 1)], 1)
    truth = {m: np.array([true_values(M)[m] for M in M_all]) for m in gaps}
    for _ in range(reps):
        f = np.zeros(n, bool)
        f[rng.choice(n, int(p_f * n), replace=False)] = True
        p_c_given_f = np.where(f[:, None], m11 / p_f, (freq - m11) / (1 - p_f))
        c = rng.random((n, n_concepts)) < p_c_given_f
        for m in gaps:
            s = similarity(f.astype(np.float32), c, m, alpha=1e-9)[0]
            gaps[m].append(truth[m].max() - truth[m][np.nanargmax(s)])
    return {m: np.quantile(v, 0.95) for m, v in gaps.items()}


def test_experiment2_gap_falls_with_probe_size():
    # |C| = 1000 as in the paper; 30 replicates instead of 1000 to stay in seconds
    q = [experiment2(n, 1000, 30, np.random.default_rng(1)) for n in (100, 400, 1600)]
    for m in q[0]:
        assert q[2][m] < q[1][m] < q[0][m], (m, [x[m] for x in q])
    assert q[0]["accuracy"] < q[0]["iou"]  # accuracy has the smallest constant (Fig. 3b)
