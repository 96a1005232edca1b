"""Cached loaders: the one place the dashboard reaches the compute module.

Caches are keyed on the workspace's version (recipe, fingerprint and build time, plus small scalar
arguments), never on arrays or on the Workspace object (its underscore-prefixed parameter is not
hashed), so a workspace rebuilt by another process is never served from stale entries. Results
are shared read-only between sessions (st.cache_resource): callers must not mutate what they get.
"""

from __future__ import annotations

import os
import threading

import streamlit as st

from neurodash import analysis, reports, sieve
from neurodash.precompute import precompute
from neurodash.recipe import Recipe
from neurodash.stats.metrics import METRICS
from neurodash.workspace import Workspace, list_workspaces
from neurodash.sieve.renders import DEFAULT_M

_ENTRIES = 512  # per-neuron results are small; this bounds memory on a long demo
PREFETCH_ENV = "NEURODASH_PREFETCH"  # "0": no background warm-up of the previous / next unit


def home() -> str | None:
    return os.environ.get("NEURODASH_HOME") or None


@st.cache_resource(show_spinner=False, max_entries=16)
def _workspace(key: str, home_dir: str | None, _recipe: Recipe) -> Workspace:
    return Workspace.open(_recipe, home=home_dir)


def workspace(recipe: Recipe) -> Workspace:
    """The recipe's workspace, re-checked when another process rebuilt its cache."""
    ws = _workspace(recipe.key(), home(), recipe)
    if ws.changed_on_disk():
        ws.check()
    return ws


def build(ws: Workspace, progress=None) -> None:
    """Precompute the workspace's cache (the sidebar's button and the first run)."""
    precompute(ws, progress=progress)
    known_recipes.clear()


@st.cache_data(show_spinner=False, ttl=10)
def known_recipes(home_dir: str | None) -> list[Recipe]:
    """Recipes of the caches that exist on disk (rechecked every few seconds: the CLI may add some)."""
    return list(list_workspaces(home_dir))


@st.cache_resource(show_spinner=False, max_entries=8)
def layer_names(model: str, weights: str | None, arch: str | None) -> list[str]:
    """Names of the model's layers that give activations (loads the model once per process)."""
    from neurodash import models

    loaded = models.load_model(model, weights=weights or None, arch=arch or None)
    return [info.name for info in models.list_layers(loaded)]


@st.cache_resource(show_spinner=False, max_entries=64)
def _layer_table(key: str, metrics: tuple, delta: float, _ws: Workspace):
    return analysis.layer_table(_ws, metrics=list(metrics), delta=delta)


def layer_table(ws: Workspace, metrics, delta: float = 0.05):
    return _layer_table(ws.version, tuple(metrics), float(delta), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _neuron_card(key: str, neuron: int, metrics: tuple, delta: float, top: int, _ws: Workspace):
    return analysis.neuron_card(_ws, neuron, metrics=list(metrics), top_concepts=top, delta=delta)


def neuron_card(ws: Workspace, neuron: int, metrics, delta: float = 0.05, top: int = 5):
    return _neuron_card(ws.version, int(neuron), tuple(metrics), float(delta), int(top), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _bootstrap(key: str, neuron: int, metric: str, K: int, seed: int, t, delta: float, _ws: Workspace):
    return analysis.bootstrap(_ws, neuron, metric=metric, K=K, seed=seed, t=t, delta=delta)


def bootstrap(ws: Workspace, neuron: int, *, metric: str, K: int = 100, seed: int = 0, t=None, delta: float = 0.05):
    return _bootstrap(ws.version, int(neuron), metric, int(K), int(seed), t, float(delta), ws)


@st.cache_resource(show_spinner=False, max_entries=32)
def _sanity(key: str, metrics: tuple, seed: int, _ws: Workspace):
    return analysis.sanity_report(_ws, metrics=list(metrics), seed=seed)


def sanity_report(ws: Workspace, metrics, seed: int = 0):
    return _sanity(ws.version, tuple(metrics), int(seed), ws)


@st.cache_resource(show_spinner=False, max_entries=16)
def _selectivity(key: str, _ws: Workspace):
    return _ws.selectivity()


def selectivity(ws: Workspace):
    return _selectivity(ws.version, ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _top_images(key: str, neuron: int, k: int, _ws: Workspace):
    ids, acts, maps = _ws.top_images(neuron, k)
    return ids, acts, maps, _ws.images(ids)


def top_images(ws: Workspace, neuron: int, k: int):
    """(ids, acts, maps, images) of the neuron's k top images."""
    return _top_images(ws.version, int(neuron), int(k), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _top_tiles(key: str, neuron: int, k: int, heat: bool, size: int, _ws: Workspace) -> list[bytes]:
    from neurodash.ui import overlay

    _ids, _acts, maps, images = _top_images(key, neuron, k, _ws)
    return overlay.tiles(images, maps if heat else None, size=size)


def top_tiles(ws: Workspace, neuron: int, k: int, *, heat: bool, size: int) -> list[bytes]:
    """JPEG bytes of the neuron's k top images (with heatmaps), encoded once: a rerun re-sends, not re-encodes."""
    return _top_tiles(ws.version, int(neuron), int(k), bool(heat), int(size), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _quantile_bins(key: str, neuron: int, per_bin: int, _ws: Workspace):
    bins = reports.quantile_bins(_ws.acts[:, neuron], per_bin=per_bin)
    return [dict(b, images=_ws.images(b["ids"])) for b in bins]


def quantile_bins(ws: Workspace, neuron: int, per_bin: int = 6):
    return _quantile_bins(ws.version, int(neuron), int(per_bin), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _histogram(key: str, neuron: int, alpha: float, _ws: Workspace, _card):
    return reports.card_histogram(_card, _ws.acts[:, neuron], alpha)


def histogram(ws: Workspace, card, metric: str):
    """The card's histogram with thresholds; α is the metric's default binarization share."""
    alpha = METRICS[metric].default_alpha if metric in METRICS else 0.01
    return _histogram(ws.version, int(card.neuron), float(alpha), ws, card)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _histogram_figure(key: str, neuron: int, metrics: tuple, delta: float, alpha: float, _ws: Workspace, _card):
    from neurodash.ui import svgcharts

    return svgcharts.activation_histogram(_histogram(key, neuron, alpha, _ws, _card))


def histogram_figure(ws: Workspace, card, metric: str) -> str:
    """The Neuron page's histogram (an SVG document), drawn once per (neuron, α)."""
    alpha = METRICS[metric].default_alpha if metric in METRICS else 0.01
    return _histogram_figure(ws.version, int(card.neuron), tuple(card.concepts), float(card.delta), float(alpha),
                             ws, card)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _concept_figure(key: str, neuron: int, metrics: tuple, delta: float, top: int, shown: tuple, _card):
    from neurodash.ui import svgcharts

    rows = reports.concept_rows(_card)
    return svgcharts.concept_scores(rows[rows["metric"].isin(list(shown))])


def concept_figure(ws: Workspace, card, shown) -> str:
    """The card's concept-score panels for the `shown` metrics (an SVG document), drawn once. Keyed
    like the card (its metrics, δ and number of top concepts) and the panels shown."""
    top = max((len(v) for v in card.concepts.values()), default=0)
    return _concept_figure(ws.version, int(card.neuron), tuple(card.concepts), float(card.delta), top, tuple(shown),
                           card)


def prefetch_neurons(ws: Workspace, neurons, *, metrics, delta: float, k: int, heat: bool, size: int,
                     chart_metric: str) -> threading.Thread | None:
    """Warm the caches of a few other neurons (the previous / next unit) in a background thread, so
    stepping to them is a cache hit. One worker per process, in small steps (card, tiles, figures):
    a newer request replaces the pending steps, and `cancel_prefetch()` (called when a page starts)
    drops them, so the worker never holds the interpreter for more than one step while a page runs.
    Errors are left to the page that later opens the neuron (it computes again and reports them).
    Returns the worker (tests join it) or None when there is nothing to do. NEURODASH_PREFETCH=0 turns
    it off (a busy shared server; or to time switches without it)."""
    global _prefetch_worker
    wanted = [int(j) for j in neurons if 0 <= int(j) < ws.n_neurons]
    if not wanted or os.environ.get(PREFETCH_ENV, "1") == "0":
        return None
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    def card(j: int):
        return neuron_card(ws, j, metrics, delta)

    steps = []
    for j in wanted:
        steps += [lambda j=j: card(j), lambda j=j: top_tiles(ws, j, k, heat=heat, size=size),
                  lambda j=j: histogram_figure(ws, card(j), chart_metric),
                  lambda j=j: concept_figure(ws, card(j), [chart_metric])]
    with _prefetch_lock:
        _prefetch_queue[:] = steps
        if _prefetch_worker is None:
            _prefetch_worker = threading.Thread(target=_prefetch_loop, name="neurodash-prefetch", daemon=True)
            add_script_run_ctx(_prefetch_worker, get_script_run_ctx())  # st.cache_* look the session up
            _prefetch_worker.start()
        return _prefetch_worker


def cancel_prefetch() -> None:
    """Drop the prefetch steps not started yet (a page run starts: it has the interpreter to itself)."""
    with _prefetch_lock:
        _prefetch_queue.clear()


def _prefetch_loop() -> None:
    global _prefetch_worker
    while True:
        with _prefetch_lock:
            if not _prefetch_queue:
                _prefetch_worker = None  # under the lock: a request from now on starts a new worker
                return
            step = _prefetch_queue.pop(0)
        try:
            step()
        except Exception:  # noqa: BLE001 - see prefetch_neurons
            pass


_prefetch_lock = threading.Lock()
_prefetch_queue: list = []
_prefetch_worker: threading.Thread | None = None


@st.cache_data(show_spinner=False, max_entries=64)
def planner(*, freq: float, alpha: float, agreement: float, n_concepts: int, delta: float, target: float) -> dict:
    s = reports.PlannerSetting(freq=freq, alpha=alpha, agreement=agreement, n_concepts=n_concepts, delta=delta)
    return {"curves": reports.planner_curves(s, reports.planner_sizes()),
            "needed": reports.planner_needed(s, target)}


@st.cache_resource(show_spinner=False)
def _long_results() -> dict:
    """Process-wide memo for long layer-wide work that reports progress.

    st.cache_* replays the elements a cached call touched and refuses elements created outside it
    (a progress bar), so this work is memoised here instead, keyed the same way.
    """
    return {}


def _memo(key: tuple, compute, limit: int = 16):
    store = _long_results()
    if compute is None:  # a peek: the value when it was computed before, else None
        return store.get(key)
    if key not in store:
        value = compute()
        while len(store) >= limit:
            store.pop(next(iter(store)))
        store[key] = value
    return store[key]


def layer_be(ws: Workspace, *, metric: str, K: int, seed: int, t, delta: float = 0.05, progress=None,
             compute: bool = True):
    """BE over every neuron (rows: neuron, be_set, be_set_size, be_stability, be_coverage, gt_in_set…).

    compute=False: only what was computed before (else None)."""
    key = ("layer_be", ws.version, metric, int(K), int(seed), t, float(delta))
    return _memo(key, None if not compute else lambda: reports.layer_be(ws, metric=metric, K=int(K), seed=int(seed), t=t, delta=delta,
                                               progress=progress))


def chosen_concept_ar(ws: Workspace, metric: str, *, generator: str = "world", m: int = DEFAULT_M, seed: int = 0,
                      progress=None, compute: bool = True):
    """AR of each neuron's chosen concept (a Series indexed by neuron); compute=False: peek only."""
    key = ("chosen_ar", ws.version, metric, generator, int(m), int(seed))
    return _memo(key, None if not compute else lambda: reports.chosen_concept_ar(ws, layer_table(ws, [metric]), metric, generator=generator,
                                                        m=int(m), seed=int(seed), progress=progress))


def sieve_layer_table(ws: Workspace, *, generator: str = "world", m: int = DEFAULT_M, seed: int = 0, beta: float = 10.0,
                      progress=None, cancel=None):
    key = ("sieve_table", ws.version, generator, int(m), int(seed), float(beta))
    return _memo(key, lambda: sieve.layer_table(ws, generator=generator, m=int(m), seed=int(seed), beta=float(beta),
                                                progress=progress, cancel=cancel))


def keep_threshold_job(ws: Workspace, generator, *, m: int, seed: int, beta: float):
    """The layer's SIEVE keep-threshold (mean AR of every hypothesis, `sieve.sieve_run`) as a background
    Job shared by every session: started once, its result cached on disk by sieve_run."""
    from neurodash.progress import Job
    from neurodash.sieve.renders import generator_key

    gen = sieve.as_generator(generator)
    key = ("keep_threshold", ws.version, repr(sorted(generator_key(gen).items())), int(m), int(seed), float(beta))
    store = _long_results()
    job = store.get(key)
    if job is None or job.state in ("failed", "cancelled"):
        job = Job(lambda progress, cancel: sieve.sieve_run(ws, generator=gen, m=int(m), seed=int(seed),
                                                            beta=float(beta), progress=progress, cancel=cancel))
        store[key] = job
    return job


@st.cache_resource(show_spinner=False, max_entries=8)
def _thumbnails(key: str, size: int, _ws: Workspace) -> list[str]:
    from neurodash.ui.overlay import data_uri

    ids = [int(_ws.top_images(j, 1)[0][0]) for j in range(_ws.n_neurons)]
    images = _ws.images(ids)
    return [data_uri(img, size) for img in images]


def thumbnails(ws: Workspace, size: int = 48) -> list[str]:
    """A data-URI PNG of every unit's top image (the Layer table's thumbnails)."""
    return _thumbnails(ws.version, int(size), ws)


@st.cache_resource(show_spinner=False, max_entries=16)
def _select(key: str, beta: float, _ws: Workspace):
    return sieve.select(_ws.acts, beta=beta)


def sieve_select(ws: Workspace, beta: float):
    return _select(ws.version, float(beta), ws)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _hypotheses(key: str, neuron: int, top: int, _ws: Workspace):
    return sieve.hypothesize(_ws, neuron, top=top)


def hypotheses(ws: Workspace, neuron: int, top: int = 20):
    return _hypotheses(ws.version, int(neuron), int(top), ws)


def rendered_images(ws: Workspace, concept: str, generator, m: int, seed: int):
    return sieve.rendered_images(ws, concept, generator=generator, m=int(m), seed=int(seed))


def annotations(ws: Workspace) -> dict:
    """Every saved triage record of the workspace, read fresh (other sessions may have written)."""
    return ws.annotations.all()


def annotation(ws: Workspace, neuron: int):
    return ws.annotations.get(int(neuron))
