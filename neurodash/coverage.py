"""Coverage across probe sizes: does each unit's BE set hold its ground-truth concept as often as
Thm 4.1 claims?

For each probe size n (the workspace's recipe with probe_n = n, same seed), BE runs over the
layer; a unit is covered when its BE set holds its *fresh best* concept: the best concept by the
same metric on a fresh probe at least 10x larger than the largest n, drawn with another seed (so
the truth is not the plug-in winner of the probe BE resamples). Next to the observed share of
covered units stands the mean bound Thm 4.1 claims (derived form, vacuous counted as 0).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np

from neurodash.progress import Progress, check, report, span

FRESH_FACTOR = 10  # the fresh probe is this many times the largest probe size
FRESH_SEED_OFFSET = 1_000_003  # fresh seed = probe seed + this: never a probe seed in practice


def default_sizes(n: int) -> list[int]:
    """Probe sizes up to a default n: n/8, n/4, n/2, n. Not 2n: the fresh probe is FRESH_FACTOR x
    the largest size, so 2n would double the study's cost (200,000 fresh images at n = 10,000)."""
    return sorted({max(50, n // 8), max(50, n // 4), max(50, n // 2), n})


def fresh_best(ws, metric: str, n_fresh: int, seed: int, *, batch: int = 256,
               progress: Optional[Progress] = None, cancel=None) -> np.ndarray:
    """int (N,): each unit's best concept by `metric` on a fresh world probe of n_fresh images
    (`seed`), read through the workspace's own model and layer (no masks, no cache)."""
    from neurodash import concepts as concepts_mod
    from neurodash import extract as extract_mod
    from neurodash.probes import make_probe
    from neurodash.stats import metrics as M

    if ws.recipe.probe != "world":
        raise ValueError("the coverage study needs the shapes world's probe (its ground truth)")
    probe = make_probe("world", n=n_fresh, seed=seed, size=ws.meta.get("probe_image_size", 64))
    acts = np.zeros((n_fresh, ws.n_neurons), np.float32)
    extract_mod.extract(ws.reader, probe, acts, k=1, batch=batch, progress=span(progress, 0.0, 0.8),
                        cancel=cancel)
    check(cancel, "coverage")
    labels = concepts_mod.ground_truth(probe, ws.concept_names)
    report(progress, 0.85, f"{metric} on the fresh probe")
    scores = np.asarray(M.similarity(acts, labels, M.METRICS[metric]), dtype=np.float64)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    return np.argmax(scores, axis=1)


def coverage_study(recipe, sizes: Sequence[int], *, metric: str = "iou", K: int = 100, t=None, seed: int = 0,
                   fresh_factor: int = FRESH_FACTOR, home=None, progress: Optional[Progress] = None,
                   cancel=None) -> dict:
    """Observed coverage vs mean claimed bound, per probe size (see the module doc)."""
    from neurodash.precompute import precompute
    from neurodash.reports.layer import layer_be
    from neurodash.workspace import Workspace

    sizes = sorted({int(n) for n in sizes})
    if not sizes or sizes[0] < 2:
        raise ValueError("probe sizes must be at least 2")
    if recipe.concept_source != "ground_truth":
        raise ValueError("the coverage study needs the ground-truth concept source")
    n_fresh = int(fresh_factor) * sizes[-1]
    fresh_seed = int(recipe.probe_seed) + FRESH_SEED_OFFSET
    steps = len(sizes) + 1
    rows = []
    truth = None
    for i, n in enumerate(sizes):
        part = span(progress, (i + 1) / steps, (i + 2) / steps)
        ws = Workspace.open(replace(recipe, probe_n=n), home=home)
        t0 = time.perf_counter()
        precompute(ws, progress=span(part, 0.0, 0.5), cancel=cancel)
        seconds = time.perf_counter() - t0
        if truth is None:
            truth = fresh_best(ws, metric, n_fresh, fresh_seed, progress=span(progress, 0.0, 1 / steps),
                               cancel=cancel)
        be = layer_be(ws, metric=metric, K=K, seed=seed, t=t, progress=span(part, 0.5, 1.0), cancel=cancel)
        sets = [set(s.split(", ")) if s else set() for s in be["be_set"]]
        names = ws.concept_names
        covered = np.array([names[int(truth[j])] in sets[j] for j in range(len(sets))])
        vacuous = be["be_vacuous"].to_numpy(dtype=bool)
        rows.append({"n": n, "units": int(len(covered)), "observed": float(covered.mean()),
                     "claimed": float(be["be_coverage"].mean()), "non_vacuous": int((~vacuous).sum()),
                     "non_vacuous_share": float((~vacuous).mean()),
                     "observed_non_vacuous": float(covered[~vacuous].mean()) if (~vacuous).any() else float("nan"),
                     "claimed_non_vacuous": (float(be["be_coverage"].to_numpy()[~vacuous].mean())
                                             if (~vacuous).any() else float("nan")),
                     "mean_set_size": float(be["be_set_size"].mean()),
                     "precompute_seconds": round(seconds, 2)})
    report(progress, 1.0, "coverage study done")
    return {"metric": metric, "K": int(K), "t": (0.95 * K if t is None else float(t)), "seed": int(seed),
            "workspace": recipe.to_dict(), "fresh": {"n": n_fresh, "seed": fresh_seed}, "sizes": rows}


def study_name(sizes: Sequence[int], metric: str, K: int, seed: int) -> str:
    """Cache file of a study in the default-size workspace's cache."""
    return f"coverage/study_{'-'.join(str(int(n)) for n in sorted(sizes))}_{metric}_K{int(K)}_s{int(seed)}.json"


def cached_study(ws, sizes: Sequence[int], *, metric: str = "iou", K: int = 100, seed: int = 0):
    """A study stored in ws's cache by `run_and_store`, or None."""
    name = study_name(sizes, metric, K, seed)
    return ws.cache.read_json(name) if ws.cache.has(name) else None


def run_and_store(ws, sizes: Sequence[int], *, metric: str = "iou", K: int = 100, seed: int = 0, home=None,
                  progress: Optional[Progress] = None, cancel=None) -> dict:
    """coverage_study around ws's recipe, stored in ws's cache (the Coverage page shows it later)."""
    out = coverage_study(ws.recipe, sizes, metric=metric, K=K, seed=seed, home=home, progress=progress,
                         cancel=cancel)
    ws.cache.write_json(study_name(sizes, metric, K, seed), out)
    return out
