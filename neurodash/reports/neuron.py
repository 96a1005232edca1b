"""Plain data for the Neuron page: quantile image bins, the histogram with its thresholds, concept
rows, the Cor. 3.2 reading, the BE summary, the concept search."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from neurodash.stats import metrics as _metrics


QUANTILE_BINS = ((0.01, 0.05), (0.05, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


def quantile_bins(acts, per_bin: int = 6, bins=QUANTILE_BINS) -> list[dict]:
    """Images evenly spaced by rank inside each rank range below the top.

    Returns [{"label", "ids" (int array), "acts" (float array)}], ids ordered by falling activation.
    """
    a = np.asarray(acts, dtype=np.float64)
    order = np.argsort(-a, kind="stable")
    n = len(a)
    out = []
    for lo, hi in bins:
        start, stop = int(math.floor(lo * n)), max(int(math.floor(hi * n)), int(math.floor(lo * n)) + 1)
        stop = min(stop, n)
        if start >= n:
            continue
        ranks = np.unique(np.linspace(start, stop - 1, num=min(per_bin, stop - start)).round().astype(int))
        ids = order[ranks]
        out.append({"label": f"top {lo:.0%}–{hi:.0%}", "ids": ids, "acts": a[ids]})
    return out


def binarization_threshold(acts, alpha: float) -> float:
    """Smallest activation the binarized neuron counts as on (top ⌈α·n⌉, ties included)."""
    a = np.asarray(acts, dtype=np.float64).reshape(-1, 1)
    on = _metrics.binarize(a, alpha)[:, 0]
    return float(a[on, 0].min()) if on.any() else float("nan")


def card_histogram(card, acts_column, alpha: float) -> dict:
    """The card's activation histogram with the binarization (α) and top-1% thresholds marked."""
    return {
        "edges": np.asarray(card.hist_edges, dtype=float).tolist(),
        "counts": np.asarray(card.hist_counts).tolist(),
        "thresholds": {
            f"binarized: top {alpha:g}": binarization_threshold(acts_column, alpha),
            "top 1% (SIEVE AR)": float(card.top1_threshold),
        },
    }


BAND_KINDS = {"table1": "Table 1 bound", "empirical": "empirical bootstrap interval", "none": "no band"}


def concept_rows(card) -> pd.DataFrame:
    """One row per (metric, top concept) of a neuron card: score, interval and where it comes from."""
    rows = []
    for metric, scores in card.concepts.items():
        for rank, c in enumerate(scores, start=1):
            rows.append({"metric": metric, "rank": rank, "concept": c.concept, "score": c.score,
                         "band": c.band, "lo": c.lo, "hi": c.hi, "band_kind": BAND_KINDS.get(c.band_kind, c.band_kind)})
    return pd.DataFrame(rows, columns=["metric", "rank", "concept", "score", "band", "lo", "hi", "band_kind"])


def cor32_reading(card, metric: str, n_concepts: int) -> str:
    """Cor. 3.2 in words for one metric of a card: how close the chosen concept is to the best."""
    scores = card.concepts.get(metric) or []
    if not scores:
        return f"{metric}: no concepts scored."
    top = scores[0]
    d = card.delta
    if top.band_kind != "table1" or not np.isfinite(top.band):
        kind = "an empirical bootstrap interval (no Table 1 rate)" if top.band_kind == "empirical" else "no band"
        return (f"**{metric}**: chosen concept *{top.concept}* ({top.score:.3f}); {kind}, so Cor. 3.2 gives no "
                f"guarantee here.")
    text = (f"**{metric}**: with probability ≥ {1 - d:.2f}, the chosen concept *{top.concept}* scores within "
            f"2r = {top.band:.3f} of the best concept in the set on the population (δ = {d:g}, union bound "
            f"over |C| = {n_concepts}: δ/|C| = {d / max(n_concepts, 1):.2g}).")
    if len(scores) > 1:
        gap = top.score - scores[1].score
        if gap < top.band:
            text += (f" The runner-up *{scores[1].concept}* is {gap:.3f} behind, inside the band: this probe "
                     f"cannot tell them apart.")
        else:
            text += f" The runner-up *{scores[1].concept}* is {gap:.3f} behind, outside the band."
    return text


def be_summary(report, true_concept: str | None = None, max_bars: int = 20) -> dict:
    """Plain data for the BE section: the winners' histogram, the set, stability, the Thm 4.1 bound."""
    names = list(report.concept_names)
    counts = np.asarray(report.histogram)
    in_set = set(report.prediction_set)
    keep = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0][:max_bars]
    keep += [i for i in sorted(in_set) if i not in keep]
    if true_concept in names and names.index(true_concept) not in keep:
        keep.append(names.index(true_concept))
    bars = pd.DataFrame({
        "concept": [names[i] for i in keep],
        "count": [int(counts[i]) for i in keep],
        "in_set": [i in in_set for i in keep],
        "is_true": [names[i] == true_concept for i in keep],
    })
    if report.vacuous:
        why = ("no convergence rate for this metric" if not report.has_rate
               else f"p = {report.p:.3g} ≥ 1" if np.isfinite(report.p) and report.p >= 1 else "the bound is ≤ 0")
        coverage_text = f"vacuous ({why})"
    else:
        coverage_text = f"≥ {report.coverage:.3f}"
    return {
        "bars": bars,
        "set_names": list(report.prediction_names),
        "set_size": len(report.prediction_set),
        "stability": float(report.stability),
        "coverage_text": coverage_text,
        "p": report.p,
        "gap": report.gap,
        "best": names[report.best],
        "second": names[report.second],
        "covers_truth": None if true_concept is None else true_concept in report.prediction_names,
        "note": report.note,
    }


def neurons_for_concept(layer_table: pd.DataFrame, metric: str, concept: str) -> pd.DataFrame:
    """Neurons whose best concept under `metric` is `concept`, best score first: (neuron, score)."""
    col_c, col_s = f"{metric}_concept", f"{metric}_score"
    if col_c not in layer_table:
        raise KeyError(f"the layer table has no column {col_c!r}")
    hits = layer_table.loc[layer_table[col_c] == concept, ["neuron", col_s]]
    return hits.rename(columns={col_s: "score"}).sort_values("score", ascending=False, kind="stable")
