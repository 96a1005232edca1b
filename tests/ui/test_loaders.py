"""neurodash.ui.loaders: the Neuron page's charts (SVG documents) are built once, neighbours are prefetched into the caches."""

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from neurodash.recipe import Recipe
from neurodash.ui import loaders
from neurodash.workspace import Workspace
from tests.helpers import concept_panels


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory):
    recipe = dataclasses.replace(Recipe.default(), probe_n=300)
    ws = Workspace.open(recipe, home=str(tmp_path_factory.mktemp("home")))
    loaders.build(ws)
    return ws


def test_figures_are_built_once_per_card_and_shown_metrics(small_ws):
    ws = small_ws
    metric = ws.default_metrics()[0]
    card = loaders.neuron_card(ws, 1, [metric])
    assert loaders.histogram_figure(ws, card, metric) is loaders.histogram_figure(ws, card, metric)
    fig = loaders.concept_figure(ws, card, [metric])
    assert fig is loaders.concept_figure(ws, card, [metric])
    (bars,) = concept_panels(ET.fromstring(fig)).values()
    assert [float(b["score"]) for b in bars] == pytest.approx([c.score for c in card.concepts[metric]], rel=1e-5)


def test_prefetch_warms_the_neighbours_caches(small_ws, monkeypatch):
    ws = small_ws
    metric = ws.default_metrics()[0]
    worker = loaders.prefetch_neurons(ws, [3, -1, ws.n_neurons], metrics=[metric], delta=0.05, k=4, heat=True,
                                      size=64, chart_metric=metric)
    worker.join(60)
    assert not worker.is_alive()
    misses = []  # a cached call of neuron 3 must not run its body again
    original = loaders.analysis.neuron_card
    monkeypatch.setattr(loaders.analysis, "neuron_card", lambda *a, **kw: misses.append(a) or original(*a, **kw))
    loaders.neuron_card(ws, 3, [metric], 0.05)
    assert misses == []
    loaders.neuron_card(ws, 4, [metric], 0.05)  # not prefetched: computed here
    assert len(misses) == 1
    tiles = loaders.top_tiles(ws, 3, 4, heat=True, size=64)
    assert len(tiles) == 4 and all(t[:2] == b"\xff\xd8" for t in tiles)  # JPEG, sent as is by st.image
    assert loaders.prefetch_neurons(ws, [-1], metrics=[metric], delta=0.05, k=4, heat=True, size=64,
                                    chart_metric=metric) is None


def test_cancel_drops_the_steps_not_started(small_ws, monkeypatch):
    ws = small_ws
    metric = ws.default_metrics()[0]
    gate = __import__("threading").Event()
    original = loaders.analysis.neuron_card
    started = []

    def slow_card(*a, **kw):  # holds the worker inside its first step until the test cancels
        started.append(a[1])
        gate.wait(30)
        return original(*a, **kw)

    monkeypatch.setattr(loaders.analysis, "neuron_card", slow_card)
    worker = loaders.prefetch_neurons(ws, [5, 6], metrics=[metric], delta=0.05, k=4, heat=False, size=64,
                                      chart_metric=metric)
    while not started:
        worker.join(0.01)
    loaders.cancel_prefetch()
    gate.set()
    worker.join(60)
    assert started == [5]  # neuron 6's steps were dropped before they began


def test_prefetch_can_be_turned_off(small_ws, monkeypatch):
    monkeypatch.setenv(loaders.PREFETCH_ENV, "0")
    metric = small_ws.default_metrics()[0]
    assert loaders.prefetch_neurons(small_ws, [2], metrics=[metric], delta=0.05, k=4, heat=True, size=64,
                                    chart_metric=metric) is None
