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
    binarized, top1 = binarization_threshold(acts_column, alpha), float(card.top1_threshold)
    if np.isclose(binarized, top1, rtol=1e-6, atol=1e-12):  # one line when they coincide (α = 1%)
        thresholds = {f"binarized: top {alpha:g} = top 1% (SIEVE AR)": top1}
    else:
        thresholds = {f"binarized: top {alpha:g}": binarized, "top 1% (SIEVE AR)": top1}
    return {
        "edges": np.asarray(card.hist_edges, dtype=float).tolist(),
        "counts": np.asarray(card.hist_counts).tolist(),
        "thresholds": thresholds,
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


def cor32_table(card, n_concepts: int) -> pd.DataFrame:
    """Cor. 3.2 for every metric of a card, one row each: the chosen concept, its band 2r, the runner-up,
    the gap, and the reading (inside the band: this probe cannot tell them apart)."""
    rows = []
    for metric, scores in card.concepts.items():
        if not scores:
            continue
        top, second = scores[0], (scores[1] if len(scores) > 1 else None)
        gap = top.score - second.score if second is not None else math.nan
        if top.band_kind != "table1" or not np.isfinite(top.band):
            reading = "no Table 1 rate: no guarantee" + (" (empirical interval shown)" if top.band_kind == "empirical"
                                                         else "")
        elif second is None:
            reading = "one concept scored"
        else:
            reading = "inside the band: cannot tell apart" if gap < top.band else "outside the band: separated"
        rows.append({"metric": metric, "chosen": top.concept, "score": top.score,
                     "band 2r": top.band if top.band_kind == "table1" else math.nan,
                     "runner-up": second.concept if second is not None else "", "gap": gap, "reading": reading})
    out = pd.DataFrame(rows, columns=["metric", "chosen", "score", "band 2r", "runner-up", "gap", "reading"])
    out.attrs["statement"] = (f"With probability ≥ {1 - card.delta:.2f} the chosen concept scores within 2r of the best "
                              f"concept on the population (δ = {card.delta:g}, union bound over |C| = {n_concepts}).")
    return out


def neuron_header(card, metric: str, *, be=None, verdict=None, flags=None, note=None) -> dict:
    """What the top of the Neuron page says at one glance, as plain values.

    be: be_summary(...) of this unit under `metric` or None (not run); verdict: {"verdict", "ar",
    "concept", "threshold_source"} of a SIEVE Verify of the explanation or None; flags: unit_flags(...)
    or None; note: the unit's Annotation or None.
    """
    scores = card.concepts.get(metric) or []
    top = scores[0] if scores else None
    band_text = ("no band" if top is None or not np.isfinite(top.band) else
                 f"band 2r {top.band:.3f}" if top.band_kind == "table1" else f"interval [{top.lo:.3f}, {top.hi:.3f}]")
    out = {
        "concept": top.concept if top else "—",
        "score_text": f"{metric} {top.score:.3f}" if top else f"{metric}: not scored",
        "band_text": band_text,
        "be_text": "not run",
        "be_detail": "Run BE below",
        "verdict_text": "not run",
        "verdict_detail": "on the Verify page",
        "triage_text": note.status if note is not None else "unreviewed",
        "triage_detail": ", ".join(note.flags) if note is not None and note.flags else "no manual flags",
        "flags": [], "reasons": [], "severity": None, "severity_text": "not assessed",
    }
    if be is not None:
        out["be_text"] = f"stability {be['stability']:.2f}"
        out["be_detail"] = "set: " + ", ".join(be["set_names"])
    if verdict is not None:
        out["verdict_text"] = verdict["verdict"]
        out["verdict_detail"] = f"{verdict['concept']}: AR {verdict['ar']:.2f} vs {verdict['threshold_source']}"
    if flags is not None:
        out.update(flags=flags["flags"], reasons=flags["reasons"], severity=flags["severity"],
                   severity_text=(f"{flags['severity']:.2f} · rank {flags['rank']} of {flags['of']}"
                                  if flags["flags"] else "none · no automatic flag"))
    return out


def be_summary(report, true_concept: str | None = None, max_bars: int = 20) -> dict:
    """Plain data for the BE section: the winners' histogram, the set, stability, the Thm 4.1 bound."""
    names = list(report.concept_names)
    counts = np.asarray(report.histogram)
    in_set = set(report.prediction_set)
    keep = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0][:max_bars]
    keep += [i for i in sorted(in_set) if i not in keep]
    # the plug-in best and runner-up always show, so a stable unit's chart has something to compare
    keep += [i for i in (report.best, report.second) if i not in keep]
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


def units_for_concept(scores, names, concept: str, *, top: int | None = None) -> pd.DataFrame:
    """Every unit ranked by its score for `concept` (scores: the N×C metric matrix), best first.

    Columns: neuron, score, rank_in_unit (1 = the concept is the unit's best), best_concept."""
    names = list(names)
    if concept not in names:
        raise KeyError(f"no concept {concept!r} in this workspace")
    S = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    c = names.index(concept)
    col = S[:, c]
    order = np.lexsort((np.arange(len(col)), -col))[: top or len(col)]
    rank = (S[order] > col[order, None]).sum(axis=1) + 1
    best = np.asarray(names, dtype=object)[S[order].argmax(axis=1)]
    return pd.DataFrame({"neuron": order, "score": col[order], "rank_in_unit": rank, "best_concept": best})


def neurons_for_concept(layer_table: pd.DataFrame, metric: str, concept: str) -> pd.DataFrame:
    """Neurons whose best concept under `metric` is `concept`, best score first: (neuron, score)."""
    col_c, col_s = f"{metric}_concept", f"{metric}_score"
    if col_c not in layer_table:
        raise KeyError(f"the layer table has no column {col_c!r}")
    hits = layer_table.loc[layer_table[col_c] == concept, ["neuron", col_s]]
    return hits.rename(columns={col_s: "score"}).sort_values("score", ascending=False, kind="stable")
