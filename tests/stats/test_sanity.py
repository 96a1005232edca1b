"""NeuronEval's Missing / Extra Labels tests, on perturbations and on simulated known neurons."""
import numpy as np
import pytest

from neurodash.stats.metrics import METRICS
from neurodash.stats.sanity import perturb, sanity_tests, simulate_known_neurons


def test_perturbations_halve_and_double_positives():
    rng = np.random.default_rng(0)
    c = (rng.random(20000) < 0.05).astype(float)
    missing, extra = perturb(c, np.random.default_rng(1))
    pos = c.sum()
    assert set(np.flatnonzero(missing)) <= set(np.flatnonzero(c))  # only removes
    assert set(np.flatnonzero(c)) <= set(np.flatnonzero(extra))  # only adds
    assert missing.sum() == pytest.approx(pos / 2, rel=0.1)
    assert extra.sum() == pytest.approx(2 * pos, rel=0.1)


def test_seeded_and_validated():
    sim = simulate_known_neurons(n=3000, frequencies=(0.05,), neurons_per_frequency=3)
    a = sanity_tests(sim.acts, sim.concepts, sim.pairs, ["iou", "accuracy"], seed=3, alpha=0.02)
    b = sanity_tests(sim.acts, sim.concepts, sim.pairs, ["iou", "accuracy"], seed=3, alpha=0.02)
    assert a.equals(b)
    assert list(a.columns) == ["missing_labels", "extra_labels", "passed"]
    with pytest.raises(ValueError, match="outside"):
        sanity_tests(sim.acts, sim.concepts, [(0, 99)], ["iou"])
    with pytest.raises(ValueError, match="at least one"):
        sanity_tests(sim.acts, sim.concepts, [], ["iou"])


MUST_PASS = ["f1", "iou", "pearson", "cosine", "auprc"]
REPORT_ONLY = ["accuracy", "auroc", "mad"]


@pytest.mark.parametrize("freq", [0.1, 0.01])
def test_theoretical_sanity_check_verdicts(freq):
    """NeuronEval's theoretical setting: each neuron is its own concept (activation = label),
    binarized back exactly (α below the frequency; ties included)."""
    sim = simulate_known_neurons(n=20000, frequencies=(freq,), neurons_per_frequency=10, seed=0)
    df = sanity_tests(sim.acts, sim.concepts, sim.pairs, list(METRICS), seed=0, trials=3, alpha=freq / 2)
    print(f"\nsetting {sim.setting}, alpha={freq / 2}\n{df}")
    assert df.loc["recall", "extra_labels"] < 0.9 and not df.loc["recall", "passed"]
    assert df.loc["precision", "missing_labels"] < 0.9 and not df.loc["precision", "passed"]
    for m in MUST_PASS:
        assert df.loc[m, "passed"], (m, df.loc[m].to_dict())


def test_accuracy_fails_for_a_rare_concept():
    """NeuronEval's point about imbalance: at frequency 0.001 accuracy barely moves (the change is
    about the frequency itself, below ε = 0.001), so it fails Missing Labels; MAD likewise."""
    sim = simulate_known_neurons(n=60000, frequencies=(0.001,), neurons_per_frequency=6, seed=2)
    df = sanity_tests(sim.acts, sim.concepts, sim.pairs, ["accuracy", "auroc", "mad", "iou"], seed=0,
                      trials=3, alpha=0.0005)
    print(f"\nsetting {sim.setting}, alpha=0.0005\n{df}")
    assert not df.loc["accuracy", "passed"]
    assert df.loc["iou", "passed"]


def test_noisy_neurons_still_separate_recall_and_precision():
    """A less faithful neuron (noise 0.5): the recall/precision failures do not depend on the
    neuron being perfect."""
    sim = simulate_known_neurons(n=20000, frequencies=(0.05,), neurons_per_frequency=10, noise=0.5, seed=4)
    df = sanity_tests(sim.acts, sim.concepts, sim.pairs, ["recall", "precision", "pearson"], seed=1,
                      trials=2, alpha=0.05)
    print(f"\nsetting {sim.setting}, alpha=0.05\n{df}")
    assert df.loc["recall", "extra_labels"] < 0.5
    assert df.loc["precision", "missing_labels"] < 0.9
    assert df.loc["pearson", "passed"]
