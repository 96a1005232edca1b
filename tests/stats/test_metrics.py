"""Every metric against scikit-learn / scipy (tests/stats/oracle.py), ties and weights included."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurodash.stats import engine
from neurodash.stats import metrics as M
from neurodash.stats.metrics import METRICS, binarize, confusion_counts, similarity
from tests.stats import stats_oracle as oracle

NAMES = list(METRICS)


def data(seed, n=90, N=4, C=6, binary=False):
    rng = np.random.default_rng(seed)
    acts = np.round(rng.standard_normal((n, N)), 1)  # rounding makes ties
    concepts = np.round(rng.random((n, C)), 1)
    concepts[:, 0] = rng.random(n) < 0.15
    if binary:
        concepts = (concepts >= 0.5).astype(float)
    return acts, concepts


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["soft", "float 0/1", "float 0/1 binary=True", "bool", "uint8"])
def test_matches_oracle(name, kind):
    acts, concepts = data(0, binary=kind != "soft")
    exp = oracle.matrix(name, acts, concepts, alpha=0.1)
    given = {"bool": concepts.astype(bool), "uint8": concepts.astype(np.uint8)}.get(kind, concepts)
    got = similarity(acts, given, name, alpha=0.1, binary=True if "binary=True" in kind else None)
    assert got.shape == (4, 6) and got.dtype == np.float64
    np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.isfinite(got).mean() > 0.8  # the comparison is not vacuous


@pytest.mark.parametrize("name", NAMES)
def test_float32_inputs_agree_with_float64(name):
    acts, concepts = data(1)
    exp = similarity(acts, concepts, name, alpha=0.1)
    got = similarity(acts.astype(np.float32), concepts.astype(np.float32), name, alpha=0.1)
    np.testing.assert_allclose(got, exp, rtol=2e-4, atol=2e-4, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_weighted_equals_repeated_rows(name):
    acts, concepts = data(2, n=70)
    w = np.random.default_rng(3).integers(0, 4, size=70)
    rows = np.repeat(np.arange(70), w)
    got = similarity(acts, concepts, name, alpha=0.1, weights=w)
    exp = similarity(acts[rows], concepts[rows], name, alpha=0.1)
    np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9, equal_nan=True)
    # and the weights matter: unweighted differs somewhere
    assert not np.allclose(similarity(acts, concepts, name, alpha=0.1), exp, equal_nan=True)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(4, 25),
    seed=st.integers(0, 2**31 - 1),
    binary=st.booleans(),
    alpha=st.sampled_from([0.05, 0.2, 0.5]),
)
def test_weighted_equals_repeated_property(n, seed, binary, alpha):
    rng = np.random.default_rng(seed)
    acts = rng.integers(-2, 3, size=(n, 2)).astype(float)  # many ties
    concepts = rng.integers(0, 5, size=(n, 3)) / 4.0
    if binary:
        concepts = (concepts >= 0.5).astype(float)
    w = rng.integers(0, 4, size=n)
    if w.sum() == 0:
        w[0] = 1
    rows = np.repeat(np.arange(n), w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in NAMES:
            got = similarity(acts, concepts, name, alpha=alpha, weights=w)
            exp = similarity(acts[rows], concepts[rows], name, alpha=alpha)
            np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=name)


def test_binarize_top_count_and_ties():
    a = np.array([5.0, 4, 4, 4, 1, 0, 0, 0, 0, 0])
    # ⌈0.2·10⌉ = 2 rows, the tie at 4 brings in all three 4s
    assert binarize(a, 0.2)[:, 0].tolist() == [True, True, True, True] + [False] * 6
    assert binarize(a, 0.1)[:, 0].sum() == 1
    # 0.01·300 must give 3, not 4 (floating point)
    b = np.arange(300.0)
    assert binarize(b, 0.01).sum() == 3
    # weighted: the top row carries weight 2, so ⌈0.2·11⌉ = 3 is reached by rows 0 and 1..3 (tie)
    w = np.array([2, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assert binarize(a, 0.2, weights=w)[:, 0].sum() == 4
    w = np.array([3, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    assert binarize(a, 0.2, weights=w)[:, 0].sum() == 1  # ⌈0.2·9⌉ = 2 ≤ weight 3 of the top row


def test_confusion_counts_by_hand():
    f = np.array([1, 1, 0, 0, 1], bool)
    c = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [1, 0]], bool)
    out = confusion_counts(f, c)
    assert out["n11"].tolist() == [[2, 0]]
    assert out["n10"].tolist() == [[1, 3]]
    assert out["n01"].tolist() == [[1, 2]]
    assert out["n00"].tolist() == [[1, 0]]
    w = np.array([2, 1, 1, 1, 0])
    out = confusion_counts(f, c, weights=w)
    assert out["n11"].tolist() == [[2, 0]] and out["n00"].tolist() == [[1, 0]]


def test_undefined_cases_are_nan_without_warnings():
    rng = np.random.default_rng(4)
    acts = rng.standard_normal((50, 3))
    acts[:, 1] = 2.5  # constant neuron
    concepts = rng.random((50, 3))
    concepts[:, 2] = 0.1  # no positives, constant
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in NAMES:
            s = similarity(acts, concepts, name)
            assert np.isnan(s[1]).all(), name
            assert np.isfinite(s[0, :2]).all(), name
        for name in ("precision", "inverse_balanced_accuracy", "inverse_auroc", "inverse_auprc", "pearson", "spearman", "mad"):
            assert np.isnan(similarity(acts, concepts, name)[:, 2]).all(), name


def test_bad_input_names_the_column():
    acts = np.zeros((10, 4))
    acts[3, 2] = np.nan
    with pytest.raises(ValueError, match="acts column 2"):
        similarity(acts, np.zeros((10, 2)), "iou")
    acts = np.random.default_rng(0).random((10, 4))
    conc = np.zeros((10, 3))
    conc[1, 1] = np.inf
    with pytest.raises(ValueError, match="concepts column 1"):
        similarity(acts, conc, "iou")
    conc[1, 1] = 1.5
    with pytest.raises(ValueError, match=r"concepts column 1 .*outside \[0, 1\]"):
        similarity(acts, conc, "iou")
    with pytest.raises(ValueError, match="unknown metric"):
        similarity(acts, np.zeros((10, 2)), "nope")
    with pytest.raises(ValueError, match="weights"):
        similarity(acts, np.zeros((10, 2)), "iou", weights=-np.ones(10))
    with pytest.raises(ValueError, match="n=10"):
        similarity(acts, np.zeros((9, 2)), "iou")


@pytest.mark.parametrize("name", NAMES)
def test_chunking_over_concepts_changes_nothing(name, monkeypatch):
    acts, concepts = data(5, n=60, C=9)
    full = similarity(acts, concepts, name, alpha=0.1)
    monkeypatch.setattr(engine, "CHUNK_ELEMENTS", 100)  # ~1 concept column per chunk
    np.testing.assert_allclose(similarity(acts, concepts, name, alpha=0.1), full, rtol=1e-12, atol=1e-12,
                               equal_nan=True)


def test_bool_concepts_and_1d_inputs():
    acts, concepts = data(6, binary=True)
    a = similarity(acts, concepts.astype(bool), "iou", alpha=0.1)
    np.testing.assert_allclose(a, similarity(acts, concepts, "iou", alpha=0.1))
    one = similarity(acts[:, 0], concepts[:, 1], "pearson")
    assert one.shape == (1, 1)


def test_registry_fields():
    assert set(METRICS) == {"recall", "precision", "f1", "iou", "accuracy", "balanced_accuracy",
                            "inverse_balanced_accuracy", "auroc", "inverse_auroc", "auprc", "inverse_auprc",
                            "pearson", "spearman", "cosine", "mad", "wpmi", "soft_wpmi"}
    assert {m for m, v in METRICS.items() if v.has_rate} == {"accuracy", "recall", "precision", "iou", "auroc",
                                                            "inverse_auroc"}
    assert all(v.default_alpha == 0.01 for v in METRICS.values())
    assert all(callable(v.body) for v in METRICS.values())  # declared once, body on the entry
    from neurodash.stats.bounds import RATE_METRICS
    assert set(RATE_METRICS) == {m for m, v in METRICS.items() if v.has_rate}


@pytest.mark.parametrize("name", ["iou", "recall", "auroc", "auprc", "soft_wpmi", "wpmi", "pearson"])
def test_large_probe_matches_oracle(name):
    """n above topk.MIN_ROWS, so binarization and soft-WPMI's top rows take the sampled path."""
    rng = np.random.default_rng(11)
    n = 12000
    acts = np.round(rng.standard_normal((n, 3)), 2)  # ties at the cut
    acts[:, 2] = np.maximum(acts[:, 2], 1.5)  # most rows tie at the minimum
    concepts = (rng.random((n, 3)) < 0.05)
    concepts[:, 1] |= acts[:, 0] > 2
    exp = oracle.matrix(name, acts, concepts.astype(float), alpha=0.01)
    for given in (concepts, concepts.astype(float)):
        np.testing.assert_allclose(similarity(acts, given, name, alpha=0.01), exp, rtol=1e-9, atol=1e-9,
                                   equal_nan=True, err_msg=str(given.dtype))


def test_binary_flag_reads_labels_and_is_never_guessed_by_scanning(monkeypatch):
    acts, concepts = data(7, binary=True)
    bool_c = concepts.astype(bool)
    for name in NAMES:
        a = similarity(acts, bool_c, name, alpha=0.1)
        b = similarity(acts, concepts, name, alpha=0.1, binary=True)
        c = similarity(acts, concepts.astype(np.float32), name, alpha=0.1)  # soft path, same values
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)
        np.testing.assert_allclose(a, c, rtol=2e-4, atol=2e-4, equal_nan=True, err_msg=name)
    assert M.concepts_are_binary(bool_c) and M.concepts_are_binary(concepts.astype(np.uint8))
    assert not M.concepts_are_binary(concepts) and M.concepts_are_binary(concepts, True)
    # binary=True on soft values means "labels where ≥ 0.5"
    soft = data(8)[1]
    np.testing.assert_allclose(similarity(acts, soft, "pearson", binary=True),
                               similarity(acts, soft >= 0.5, "pearson"), rtol=1e-12, equal_nan=True)


def test_similarities_share_the_neurons_and_change_nothing(monkeypatch):
    acts, concepts = data(9)
    got = M.similarities(acts, concepts, NAMES, alpha=0.1)
    assert list(got) == NAMES
    for name in NAMES:
        np.testing.assert_array_equal(got[name], similarity(acts, concepts, name, alpha=0.1), err_msg=name)
    # one top-rows selection for all binary-neuron metrics and soft-WPMI's top 100 (⌈0.01·12000⌉ = 120)
    calls = []
    real = engine.column_tops
    monkeypatch.setattr(engine, "column_tops", lambda A, k: calls.append(k) or real(A, k))
    rng = np.random.default_rng(1)
    big, conc = rng.standard_normal((12000, 3)), rng.random((12000, 4)) < 0.1
    M.similarities(big, conc, ["iou", "recall", "auroc", "soft_wpmi"])
    assert calls == [120]


@pytest.mark.parametrize("name", ["soft_wpmi", "auroc", "auprc", "spearman", "pearson", "wpmi"])
def test_weighted_equals_repeated_rows_on_labels(name):
    """The label paths (bool concepts), with repeated rows filling several top positions."""
    acts, concepts = data(12, n=70, binary=True)
    labels = concepts.astype(bool)
    w = np.random.default_rng(13).integers(0, 4, size=70)
    rows = np.repeat(np.arange(70), w)
    got = similarity(acts, labels, name, alpha=0.1, weights=w)
    exp = similarity(acts[rows], labels[rows], name, alpha=0.1)
    np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(got, similarity(acts, concepts, name, alpha=0.1, weights=w), rtol=1e-9, atol=1e-9,
                               equal_nan=True)  # and the soft path on the same 0/1 values
