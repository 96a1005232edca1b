"""Bootstrap ensemble: batched weights equal explicit resamples; Algorithm 1 on hand counts."""
import numpy as np
import pytest

from neurodash.stats.bootstrap import (bootstrap_scores, bootstrap_winners, bootstrap_winners_many,
                                       concept_histogram, prediction_set, resample_counts, set_count,
                                       stability)
from neurodash.stats.metrics import METRICS, similarity


def data(seed=0, n=80, N=3, C=7):
    rng = np.random.default_rng(seed)
    acts = np.round(rng.standard_normal((n, N)), 1)
    concepts = np.round(rng.random((n, C)), 1)
    concepts[:, 0] = rng.random(n) < 0.2
    return acts, concepts


def test_resample_counts_are_bootstrap_draws():
    W = resample_counts(50, 200, seed=1)
    assert W.shape == (50, 200)
    assert (W.sum(axis=0) == 50).all() and (W >= 0).all() and np.allclose(W, np.round(W))
    # share of rows never drawn is about (1 − 1/n)^n ≈ 0.364
    assert 0.33 < (W == 0).mean() < 0.40
    np.testing.assert_array_equal(W, resample_counts(50, 200, seed=1))
    assert not np.array_equal(W, resample_counts(50, 200, seed=2))


@pytest.mark.parametrize("name", [m for m in METRICS if m != "soft_wpmi"])
@pytest.mark.parametrize("binary", ["soft", "float 0/1", "bool"])
def test_batched_bootstrap_equals_explicit_resamples(name, binary):
    acts, concepts = data()
    if binary != "soft":
        concepts = (concepts >= 0.5).astype(float)
    if binary == "bool":  # the label paths (one product for pearson's K resamples, union rows for n11)
        concepts = concepts.astype(bool)
    K = 5
    got = bootstrap_scores(acts[:, 0], concepts, name, K=K, seed=7, alpha=0.1)
    W = resample_counts(len(acts), K, seed=7).astype(int)
    for k in range(K):
        rows = np.repeat(np.arange(len(acts)), W[:, k])  # the resample as actual rows
        exp = similarity(acts[rows, 0], concepts[rows], name, alpha=0.1)[0]
        np.testing.assert_allclose(got[k], exp, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"{name} k={k}")


def test_winners_and_many_neurons_agree_with_single():
    acts, concepts = data(1)
    res = bootstrap_winners(acts[:, 1], concepts, "pearson", K=20, seed=3)
    assert res.winners.shape == (20,) and res.scores.shape == (20,)
    scores = bootstrap_scores(acts[:, 1], concepts, "pearson", K=20, seed=3)
    np.testing.assert_array_equal(res.winners, np.nanargmax(scores, axis=1))
    np.testing.assert_allclose(res.scores, np.nanmax(scores, axis=1))
    win, sc = bootstrap_winners_many(acts, concepts, "pearson", K=20, seed=3)
    assert win.shape == (3, 20)
    np.testing.assert_array_equal(win[1], res.winners)
    np.testing.assert_allclose(sc[1], res.scores)


def test_soft_wpmi_bootstrap_uses_the_layer_marginal():
    acts, concepts = data(2, N=4)
    K = 4
    win, _ = bootstrap_winners_many(acts, concepts, "soft_wpmi", K=K, seed=5)
    W = resample_counts(len(acts), K, seed=5)
    for k in range(K):
        exp = np.nanargmax(similarity(acts, concepts, "soft_wpmi", weights=W[:, k]), axis=1)
        np.testing.assert_array_equal(win[:, k], exp)
    with pytest.raises(ValueError, match="whole layer"):
        bootstrap_winners(acts[:, 0], concepts, "soft_wpmi", K=3)


def test_a_clear_concept_is_stable_and_a_coin_flip_is_not():
    rng = np.random.default_rng(0)
    n = 400
    concepts = (rng.random((n, 5)) < 0.2).astype(float)
    clear = concepts[:, 2] * 3 + 0.3 * rng.standard_normal(n)
    res = bootstrap_winners(clear, concepts, "iou", K=50, seed=1, alpha=0.1)
    assert stability(res.winners) == 1.0 and prediction_set(res.winners) == [2]
    # concept 3 is concept 2 with 5% of rows toggled; the neuron sits halfway between them
    flip = rng.random(n) < 0.05
    concepts[:, 3] = np.where(flip, 1 - concepts[:, 2], concepts[:, 2])
    muddled = (concepts[:, 2] + concepts[:, 3]) / 2 + 0.3 * rng.standard_normal(n)
    res = bootstrap_winners(muddled, concepts, "pearson", K=60, seed=1)
    assert set(res.winners.tolist()) == {2, 3}
    assert stability(res.winners) < 0.9
    assert sorted(prediction_set(res.winners)) == [2, 3]


def test_prediction_set_on_hand_counts():
    # counts: concept 4 → 50, concept 1 → 30, concept 7 → 15, concept 2 → 5 (K = 100)
    winners = np.array([4] * 50 + [1] * 30 + [7] * 15 + [2] * 5)
    np.random.default_rng(0).shuffle(winners)
    assert prediction_set(winners) == [4, 1, 7]  # 50 + 30 + 15 = 95 ≥ 0.95·100
    assert prediction_set(winners, t=96) == [4, 1, 7, 2]
    assert prediction_set(winners, t=50) == [4]
    assert prediction_set(winners, t=51) == [4, 1]
    assert set_count(winners, [4, 1, 7]) == 95
    hist = concept_histogram(winners, 9)
    assert hist.tolist() == [0, 30, 5, 0, 50, 0, 0, 15, 0]
    assert stability(winners) == 0.5
    # ties in frequency go by ascending concept index
    tied = np.array([3, 3, 1, 1, 2])
    assert prediction_set(tied, t=4) == [1, 3]
    # never adds concepts that never won, even if t cannot be reached (−1 = no winner)
    assert prediction_set(np.array([0, 0, -1, -1]), t=4, n_concepts=3) == [0]


def test_score_interval_and_top_gap():
    from neurodash.stats.bootstrap import score_interval, top_gap
    s = np.r_[np.arange(100.0), np.nan]
    lo, hi = score_interval(s, 0.9)
    assert lo == pytest.approx(4.95) and hi == pytest.approx(94.05)
    assert np.isnan(score_interval([np.nan])[0])
    assert top_gap([0.2, np.nan, 0.9, 0.7]) == pytest.approx(0.2)
    assert np.isnan(top_gap([0.3, np.nan]))
    with pytest.raises(ValueError):
        score_interval(s, 1.5)


@pytest.mark.parametrize("name", ["iou", "recall", "auroc", "auprc", "pearson", "spearman", "inverse_auroc"])
def test_bootstrap_on_labels_with_few_active_rows(name):
    """n large enough that the rows active in any resample are few (the gathered-union path)."""
    rng = np.random.default_rng(4)
    n, K = 3000, 6
    labels = rng.random((n, 9)) < 0.05
    a = labels[:, 3] * 2.0 + rng.standard_normal(n)
    got = bootstrap_scores(a, labels, name, K=K, seed=2)
    W = resample_counts(n, K, seed=2).astype(int)
    for k in range(K):
        rows = np.repeat(np.arange(n), W[:, k])
        exp = similarity(a[rows], labels[rows], name)[0]
        np.testing.assert_allclose(got[k], exp, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"{name} k={k}")
