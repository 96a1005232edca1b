"""Layer-wide SIEVE: the run over all selective neurons, the mean-AR threshold and the table."""

import numpy as np
import pytest

from neurodash.sieve import layer_table, sieve_run, verify

RED, BLUE, BRIGHT = 0, 1, 2


@pytest.fixture(scope="module")
def run(stand_in, colour_clip):
    return sieve_run(stand_in, generator="world", m=20, seed=0, clip=colour_clip)


def test_run_hypothesizes_every_selective_neuron(run):
    assert run["selective"] == [RED, BLUE]
    assert {h["neuron"] for h in run["hypotheses"]} == {RED, BLUE}
    ars = [h["ar"] for h in run["hypotheses"]]
    assert run["mean_ar"] == pytest.approx(np.mean(ars))
    best = {n: max((h for h in run["hypotheses"] if h["neuron"] == n), key=lambda h: h["ar"])
            for n in (RED, BLUE)}
    assert "red" in best[RED]["concept"] and "blue" in best[BLUE]["concept"]


def test_run_is_cached(stand_in, run, colour_clip):
    calls = stand_in.calls
    again = sieve_run(stand_in, generator="world", m=20, seed=0, clip=colour_clip)
    assert again == run and stand_in.calls == calls


def test_default_threshold_is_the_layer_mean_ar(stand_in, run):
    res = verify(stand_in, RED, "red", m=20, seed=0)
    assert res.threshold == pytest.approx(run["mean_ar"])
    assert "mean AR" in res.threshold_source
    assert res.passed == (res.ar >= run["mean_ar"])


def test_layer_table_has_every_source_and_sieve_verified_beats_random(stand_in, colour_clip):
    table = layer_table(stand_in, generator="world", m=20, seed=0, be_K=20, clip=colour_clip)
    sel = table[table.neurons == "selective"].set_index("source")
    assert {"NetDissect (best IoU)", "CLIP-Dissect (best soft-WPMI)", "BE top concept", "random concept",
            "SIEVE, all hypotheses (no Verify)", "SIEVE, verified hypotheses"} <= set(sel.index)
    assert (sel.explained_neurons <= 2).all()
    assert sel.loc["SIEVE, verified hypotheses", "mean_ar"] > sel.loc["random concept", "mean_ar"]
    assert table.attrs["eval_seed"] != table.attrs["verify_seed"]
    assert ((table.mean_ar >= 0) & (table.mean_ar <= 1)).all()
