"""SIEVE over a whole layer: the run behind the keep-threshold (Select, Hypothesize every selective
neuron, AR of every hypothesis) and the paper's "mean AR per explanation source" table, with the
baselines (NetDissect-style best IoU, CLIP-Dissect-style best soft-WPMI, BE's top concept, random)."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from neurodash.protocol import ProbeView
from neurodash.truth import ground_truth_metric
from neurodash.cache import CacheError, stable_hash
from neurodash.concepts import clip_activations
from neurodash.progress import Progress, check, report, span
from neurodash.sieve.hypothesize import hypothesize
from neurodash.sieve.renders import DEFAULT_M, ar_by_concept, as_generator, generator_key
from neurodash.sieve.select import BETA, TOP, select


def sieve_run(ws: ProbeView, *, generator: Any = "world", m: int = DEFAULT_M, seed: int = 0, beta: float = BETA,
              top: int = TOP, top_fraction: float = 0.01, progress: Optional[Progress] = None,
              cancel: Any = None, clip=None) -> dict:
    """SIEVE on the whole layer: Select, Hypothesize every selective neuron, AR of every hypothesis.

    Returns {"selective": [...], "ratio": [...], "hypotheses": [{neuron, cluster, rank, concept,
    score, ar}], "mean_ar": mean AR over all hypotheses (the paper's keep-threshold)}.
    Cached in the workspace directory per (generator, m, seed, beta, top).
    """
    generator = as_generator(generator)
    store = ws.cache
    key = stable_hash({**generator_key(generator), "m": int(m), "seed": int(seed), "beta": float(beta),
                       "top": int(top), "what": "sieve_run", "top_fraction": float(top_fraction),
                       "clip": _clip_name(ws, clip)})
    name = f"sieve/runs/{key}.json"
    if store is not None and store.has(name):
        try:
            return store.read_json(name)
        except CacheError as err:
            store.recomputed(name, err)
    clip = ws.clip() if clip is None else clip  # loaded only when the run is computed
    report(progress, 0.0, "Select")
    sel = select(ws.acts, beta, top=top)
    neurons = sel.selective_neurons
    rows = []
    for i, j in enumerate(neurons):
        check(cancel)
        report(progress, 0.05 + 0.45 * i / max(len(neurons), 1), f"Hypothesize neuron {j}")
        for h in hypothesize(ws, int(j), top=top, clip=clip):
            for rank, (c, s) in enumerate(zip(h.concepts, h.scores)):
                rows.append({"neuron": int(j), "cluster": h.cluster, "rank": rank, "concept": c,
                             "score": float(s), "cluster_size": int(len(h.image_ids))})
    ars = ar_by_concept(ws, [r["concept"] for r in rows], generator=generator, m=m, seed=seed,
                     progress=span(progress, 0.5, 1.0), cancel=cancel, top_fraction=top_fraction)
    for r in rows:
        r["ar"] = float(ars[r["concept"]][r["neuron"]])
    mean_ar = float(np.mean([r["ar"] for r in rows])) if rows else float("nan")
    run = {"selective": [int(j) for j in neurons], "ratio": [None if not np.isfinite(x) else float(x) for x in sel.ratio],
           "beta": float(beta), "top_fraction": float(top_fraction), "hypotheses": rows, "mean_ar": mean_ar, "m": int(m), "seed": int(seed),
           "generator": generator_key(generator)}
    if store is not None:
        store.write_json(name, run)
    report(progress, 1.0, "SIEVE run done")
    return run


def _clip_name(ws: ProbeView, clip) -> str:
    """What identifies the CLIP in use (the workspace's, or one handed in) in cache keys."""
    return ws.clip_key if clip is None else clip.key


def _probe_images(ws: ProbeView, batch: int = 512):
    for s in range(0, int(ws.n_images), batch):
        ids = np.arange(s, min(s + batch, int(ws.n_images)))
        yield s, np.asarray(ws.images(ids))


def clip_concept_activations(ws: ProbeView, *, clip=None, progress: Optional[Progress] = None) -> np.ndarray:
    """CLIP-Dissect's P(concept | image) (softmax of 10·cos) for every probe image (n, C).

    The workspace's own concepts when its concept source is CLIP already; otherwise computed with
    the workspace's CLIP and cached under sieve/.
    """
    if not ws.has_ground_truth:  # the concept source is a CLIP already
        return np.asarray(ws.concepts, dtype=np.float32)
    store = ws.cache
    name = f"sieve/clip_concepts-{stable_hash(_clip_name(ws, clip))[:16]}.npy"
    if store is not None and store.has(name):
        try:
            arr = store.read_array(name)
            if arr.shape == (int(ws.n_images), len(ws.concept_names)):
                return arr
            store.recomputed(name, CacheError(f"shape {arr.shape} does not fit the workspace"))
        except CacheError as err:
            store.recomputed(name, err)
    clip = ws.clip() if clip is None else clip
    text = np.asarray(clip.encode_texts(list(ws.concept_names)), dtype=np.float32)
    cos = np.zeros((int(ws.n_images), len(text)), np.float32)
    for s, images in _probe_images(ws):
        cos[s:s + len(images)] = np.asarray(clip.encode_images(images), dtype=np.float32) @ text.T
        report(progress, (s + len(images)) / int(ws.n_images), "CLIP concept activations")
    probs = clip_activations(cos, "softmax")
    if store is not None:
        store.write_array(name, probs)
    return probs


def baseline_explanations(ws: ProbeView, neurons: Sequence[int], *, be_metric: str = "iou", be_K: int = 100,
                          seed: int = 0, clip=None, progress: Optional[Progress] = None) -> dict[str, dict[int, str]]:
    """source -> {neuron: concept}: each baseline's one explanation per neuron.

    - "NetDissect (best IoU)": argmax of IoU against the workspace's concepts: pixel IoU where the
      workspace has concept masks (the shapes world, ground truth), else image-level IoU.
    - "CLIP-Dissect (best soft-WPMI)": argmax of soft-WPMI against CLIP concept activations.
    - "BE top concept": the most frequent bootstrap winner (K resamples, metric be_metric).
    - "random concept": a seeded uniform draw, the floor any method should beat.
    """
    from neurodash.stats.bootstrap import bootstrap_winners_many, concept_histogram
    from neurodash.stats.metrics import similarity

    neurons = [int(j) for j in neurons]
    names = list(ws.concept_names)
    if not neurons:
        return {k: {} for k in ("NetDissect (best IoU)", "CLIP-Dissect (best soft-WPMI)", "BE top concept", "random concept")}
    acts = np.asarray(ws.acts[:, neurons], dtype=np.float32)
    concepts = np.asarray(ws.concepts, dtype=np.float32)
    report(progress, 0.0, "NetDissect: IoU")
    # the ground-truth metric: pixel IoU where the workspace has concept masks, else image-level IoU
    iou = np.asarray(ws.metric_matrix(ground_truth_metric(ws)))[neurons]
    report(progress, 0.2, "CLIP-Dissect: CLIP concept activations")
    clip_probs = clip_concept_activations(ws, clip=clip, progress=span(progress, 0.2, 0.6))
    # soft-WPMI subtracts a per-concept term averaged over the layer's neurons (CLIP-Dissect), so
    # it is computed on the whole layer and then read for the neurons asked for
    wpmi = similarity(np.asarray(ws.acts, dtype=np.float32), clip_probs, "soft_wpmi")[neurons]
    report(progress, 0.6, "BE: bootstrap")
    winners, _scores = bootstrap_winners_many(acts, concepts, be_metric, K=be_K, seed=seed,
                                              progress=span(progress, 0.6, 0.99))
    # -1 marks a resample without a winner (e.g. every concept constant on it)
    be_top = [int(concept_histogram(w, len(names)).argmax()) for w in np.asarray(winners)]
    rng = np.random.default_rng(seed)
    rand = rng.integers(0, len(names), size=len(neurons))
    report(progress, 1.0, "baselines done")
    return {
        "NetDissect (best IoU)": {j: names[int(np.argmax(iou[i]))] for i, j in enumerate(neurons)},
        "CLIP-Dissect (best soft-WPMI)": {j: names[int(np.argmax(wpmi[i]))] for i, j in enumerate(neurons)},
        "BE top concept": {j: names[be_top[i]] for i, j in enumerate(neurons)},
        "random concept": {j: names[int(rand[i])] for i, j in enumerate(neurons)},
    }


def layer_table(ws: ProbeView, *, generator: Any = "world", m: int = DEFAULT_M, seed: int = 0, eval_seed: Optional[int] = None,
                beta: float = BETA, top: int = TOP, threshold: Optional[float] = None, be_metric: str = "iou",
                be_K: int = 100, top_fraction: float = 0.01, clip=None, progress: Optional[Progress] = None,
                cancel: Any = None):
    """The paper's "mean AR per method" table on this layer (pandas DataFrame).

    Every method explains the same neurons: SIEVE's selective ones (baselines also over all
    neurons, in rows marked "all"). SIEVE keeps a hypothesis when its AR on the verification renders
    (seed) reaches the threshold (default: their mean AR). All ARs in the table are then measured
    on fresh renders (eval_seed, default seed + 1000): reusing the renders that selected a
    hypothesis to score it would flatter SIEVE by construction.
    """
    import pandas as pd

    generator = as_generator(generator)
    eval_seed = seed + 1000 if eval_seed is None else int(eval_seed)
    run = sieve_run(ws, generator=generator, m=m, seed=seed, beta=beta, top=top, clip=clip,
                    top_fraction=top_fraction, progress=span(progress, 0.0, 0.4), cancel=cancel)
    keep_at = run["mean_ar"] if threshold is None else float(threshold)
    selective = run["selective"]
    all_neurons = list(range(int(ws.n_neurons)))
    base = baseline_explanations(ws, all_neurons, be_metric=be_metric, be_K=be_K, seed=seed, clip=clip,
                                 progress=span(progress, 0.4, 0.55))
    hyps = run["hypotheses"]
    verified = [h for h in hyps if np.isfinite(keep_at) and h["ar"] >= keep_at]
    wanted = [h["concept"] for h in hyps]
    for expl in base.values():
        wanted += list(expl.values())
    ars = ar_by_concept(ws, wanted, generator=generator, m=m, seed=eval_seed,
                     progress=span(progress, 0.55, 1.0), cancel=cancel, top_fraction=top_fraction)

    def row(source, neurons, pairs):
        vals = np.array([ars[c][j] for j, c in pairs], dtype=np.float64)
        n = len(vals)
        return {"source": source, "neurons": neurons, "explanations": n,
                "explained_neurons": len({j for j, _ in pairs}),
                "mean_ar": float(vals.mean()) if n else float("nan"),
                "se": float(vals.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")}

    rows = []
    sel_set = set(selective)
    for source, expl in base.items():
        rows.append(row(source, "selective", [(j, c) for j, c in expl.items() if j in sel_set]))
    rows.append(row("SIEVE, all hypotheses (no Verify)", "selective", [(h["neuron"], h["concept"]) for h in hyps]))
    rows.append(row("SIEVE, verified hypotheses", "selective", [(h["neuron"], h["concept"]) for h in verified]))
    for source, expl in base.items():
        rows.append(row(source, "all", list(expl.items())))
    table = pd.DataFrame(rows)
    table.attrs.update({"keep_threshold": keep_at, "verify_seed": seed, "eval_seed": eval_seed, "m": m,
                        "generator": generator.name, "selective_neurons": len(selective),
                        "neurons": int(ws.n_neurons), "beta": beta, "top_fraction": top_fraction})
    report(progress, 1.0, "layer table done")
    return table
