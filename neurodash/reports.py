"""Plain data the dashboard pages show, composed from workspace and statistics results.

Pages hold layout only; anything that computes (a histogram, a threshold, a share, a search for a
probe size) is composed here from neurodash.stats and the Workspace, and returned as dicts and
DataFrames. No streamlit here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurodash.stats import bounds as _bounds
from neurodash.stats import metrics as _metrics


# --------------------------------------------------------------------------- planner (Fig. 3a)


@dataclass(frozen=True)
class PlannerSetting:
    """What the Planner asks: a concept frequency, the neuron's active share, how much they overlap."""

    freq: float  # share of probe images that show the concept, rho(c)
    alpha: float  # share of probe images where the binarized neuron is on
    agreement: float  # |f∧c| as a share of min(|f|, |c|): 1 = nested (bounds' default), 0 = disjoint
    n_concepts: int  # |C| for the union bound
    delta: float  # failure probability before the union bound

    def check(self) -> None:
        for name in ("freq", "alpha"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ValueError(f"{name} must lie in (0, 1), got {v}")
        if not 0.0 <= self.agreement <= 1.0:
            raise ValueError(f"agreement must lie in [0, 1], got {self.agreement}")
        if self.n_concepts < 1:
            raise ValueError(f"|C| must be at least 1, got {self.n_concepts}")
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {self.delta}")


def rate_metrics() -> list[str]:
    """Names of the metrics with a Table 1 convergence rate, in registry order."""
    return [name for name, m in _metrics.METRICS.items() if m.has_rate]


def _planner_kwargs(s: PlannerSetting) -> dict:
    return dict(concept_freq=s.freq, alpha=s.alpha, n_concepts=s.n_concepts, delta=s.delta, overlap=s.agreement)


def planner_curves(s: PlannerSetting, sizes, metrics=None) -> pd.DataFrame:
    """Long table (metric, n, band) for the Planner chart: Cor. 3.2 band 2·r(δ/|C|) per probe size."""
    s.check()
    frames = [pd.DataFrame({"metric": m, "n": list(sizes),
                            "band": _bounds.planner_rates(m, sizes, **_planner_kwargs(s))})
              for m in (metrics or rate_metrics())]
    return pd.concat(frames, ignore_index=True)


def planner_sizes(n_min: int = 100, n_max: int = 10_000_000, points: int = 60) -> list[int]:
    """Log-spaced probe sizes for the chart's x axis."""
    return sorted({int(round(v)) for v in np.geomspace(n_min, n_max, points)})


def planner_needed(s: PlannerSetting, target: float, metrics=None, n_max: int = 10**12) -> pd.DataFrame:
    """Smallest probe size whose band is at most `target`, per metric (None: not within n_max)."""
    s.check()
    if not target > 0:
        raise ValueError(f"the target band must be positive, got {target}")
    rows = []
    for m in metrics or rate_metrics():
        n = _bounds.probe_size_for_band(m, target, max_n=n_max, **_planner_kwargs(s))
        band = None if n is None else float(_bounds.planner_rates(m, [n], **_planner_kwargs(s))[0])
        rows.append({"metric": m, "probe_size": n, "band_at_size": band})
    return pd.DataFrame(rows, columns=["metric", "probe_size", "band_at_size"])


# --------------------------------------------------------------------------- neuron page

# Rank ranges (as shares of the probe from the top) shown below the top-k images.
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


def activation_histogram(ws, neuron: int, alpha: float, bins: int = 60) -> dict:
    """Histogram of one neuron's probe activations, with the binarization and top-1% thresholds."""
    a = np.asarray(ws.acts[:, neuron], dtype=np.float64)
    counts, edges = np.histogram(a, bins=bins)
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "thresholds": {
            f"binarized on (top {alpha:g})": binarization_threshold(a, alpha),
            "top 1% (SIEVE AR)": float(ws.top1_threshold()[neuron]),
        },
    }


def neurons_for_concept(layer_table: pd.DataFrame, metric: str, concept: str) -> pd.DataFrame:
    """Neurons whose best concept under `metric` is `concept`, best score first: (neuron, score)."""
    col_c, col_s = f"{metric}_concept", f"{metric}_score"
    if col_c not in layer_table:
        raise KeyError(f"the layer table has no column {col_c!r}")
    hits = layer_table.loc[layer_table[col_c] == concept, ["neuron", col_s]]
    return hits.rename(columns={col_s: "score"}).sort_values("score", ascending=False, kind="stable")


def planner_starting_point(ws) -> dict:
    """The Planner's defaults from a workspace: median concept frequency over concepts present, |C|."""
    present = np.asarray(ws.concepts) >= 0.5
    freq = present.mean(axis=0)
    freq = freq[freq > 0]
    out = {"n_concepts": int(present.shape[1])}
    if freq.size:
        out["freq"] = float(np.clip(np.median(freq), 1e-5, 0.99))
    return out


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


# --------------------------------------------------------------------------- layer-wide BE, coverage


def layer_be(ws, *, metric: str, K: int = 100, seed: int = 0, t=None, delta: float = 0.05,
             progress=None, cancel=None) -> pd.DataFrame:
    """BE for every neuron of the layer (each cached on disk by the workspace), one row per neuron."""
    names = ws.concept_names
    truth = dict(ws.ground_truth_pairs()) if ws.has_ground_truth else {}
    rows = []
    N = ws.n_neurons
    for j in range(N):
        if cancel is not None and cancel.is_set():
            raise InterruptedError("BE over the layer was cancelled")
        r = ws.bootstrap(j, metric=metric, K=K, seed=seed, t=t, delta=delta)
        row = {"neuron": j, "be_set": ", ".join(r.prediction_names), "be_set_size": len(r.prediction_set),
               "be_stability": r.stability, "be_top": names[int(np.argmax(r.histogram))], "be_gap": r.gap,
               "be_p": r.p, "be_coverage": (0.0 if r.vacuous else r.coverage), "be_vacuous": r.vacuous}
        if truth:
            row["gt_concept"] = names[truth[j]]
            row["gt_in_set"] = truth[j] in r.prediction_set
        rows.append(row)
        if progress is not None:
            progress((j + 1) / N, f"BE {metric}: neuron {j + 1}/{N}")
    return pd.DataFrame(rows)


def coverage_summary(be: pd.DataFrame) -> dict:
    """Observed share of neurons whose BE set holds the ground-truth concept vs the Thm 4.1 claim.

    The claim per neuron is the Eq. 9 lower bound, counted as 0 where it is vacuous; its mean over
    the layer is what the bound promises for the share (a lower bound on the expected share).
    """
    if "gt_in_set" not in be:
        raise ValueError("coverage needs ground truth: use a workspace with the ground-truth concept source")
    n = len(be)
    informative = be[~be["be_vacuous"].astype(bool)]
    out = {
        "neurons": n,
        "observed": float(be["gt_in_set"].mean()) if n else float("nan"),
        "claimed": float(be["be_coverage"].mean()) if n else float("nan"),
        "informative": len(informative),
        "observed_informative": float(informative["gt_in_set"].mean()) if len(informative) else float("nan"),
        "claimed_informative": float(informative["be_coverage"].mean()) if len(informative) else float("nan"),
        "mean_set_size": float(be["be_set_size"].mean()) if n else float("nan"),
    }
    out["bars"] = pd.DataFrame({"what": ["observed: set holds the truth", "claimed by Thm 4.1 (mean bound)"],
                                "value": [out["observed"], out["claimed"]]})
    return out


def layer_view(table: pd.DataFrame, be: pd.DataFrame | None = None, flags: pd.DataFrame | None = None,
               notes: dict | None = None) -> pd.DataFrame:
    """The Layer page's table: the workspace's layer table joined with BE and automatic flags where known.

    `notes` (Annotations.all()) refreshes status and manual flags, which a cached table may hold stale.
    """
    out = table.rename(columns={"flags": "manual_flags"})
    if notes is not None:
        out["status"] = [notes[j].status if j in notes else "unreviewed" for j in out["neuron"]]
        out["manual_flags"] = [", ".join(notes[j].flags) if j in notes else "" for j in out["neuron"]]
    if be is not None:
        cols = [c for c in ("be_set", "be_set_size", "be_stability") if c in be]
        out = out.merge(be[["neuron"] + cols], on="neuron", how="left")
    if flags is not None:
        auto = flags[["flags", "n_flags"]].rename(columns={"flags": "auto_flags"}).rename_axis("neuron").reset_index()
        out = out.merge(auto, on="neuron", how="left")
    return out


def top_two_gap(scores) -> np.ndarray:
    """Per neuron (rows of an N×C score matrix): best minus runner-up score (nan-safe; 0 with one concept)."""
    S = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    if S.shape[1] < 2:
        return np.zeros(S.shape[0])
    top2 = -np.sort(-S, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):  # -inf - -inf: a neuron with no finite score
        gap = top2[:, 0] - top2[:, 1]
    return np.where(np.isfinite(gap), gap, np.nan)


def chosen_concept_ar(ws, table: pd.DataFrame, metric: str, *, generator="world", m: int = 20, seed: int = 0,
                      progress=None, cancel=None) -> pd.Series:
    """SIEVE Activation Rate of each neuron's chosen (best `metric`) concept on m generated images.

    A render of a concept serves every neuron (SIEVE caches it in the workspace), so the work is one
    render per distinct chosen concept.
    """
    from neurodash import sieve

    concepts = table[f"{metric}_concept"].tolist()
    thresholds = np.asarray(ws.top1_threshold(), dtype=np.float64)
    distinct = list(dict.fromkeys(concepts))
    rates: dict[str, np.ndarray] = {}
    for i, c in enumerate(distinct):
        span = None if progress is None else (lambda f, msg, i=i: progress((i + f) / len(distinct), msg))
        acts = sieve.render_activations(ws, c, generator=generator, m=m, seed=seed, progress=span, cancel=cancel)
        rates[c] = sieve.activation_hits(acts, thresholds).mean(axis=0)
    ar = [float(rates[c][j]) for j, c in zip(table["neuron"], concepts)]
    return pd.Series(ar, index=table["neuron"].to_numpy(), name="ar")


def triage_evidence(ws, table: pd.DataFrame, metric: str, *, be: pd.DataFrame | None = None,
                    ar: pd.Series | None = None, sanity: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-neuron inputs of neurodash.triage.flag_table, from what has been computed (rest unknown)."""
    ev = pd.DataFrame(index=pd.Index(table["neuron"].to_numpy(), name="neuron"))
    ev["concept"] = table[f"{metric}_concept"].to_numpy()
    ev["score"] = table[f"{metric}_score"].to_numpy()
    ev["gap"] = top_two_gap(ws.metric_matrix(metric))[ev.index.to_numpy()]
    ev["band"] = table[f"{metric}_band"].to_numpy()
    ev["selective"] = table["selective"].to_numpy()
    if be is not None:
        b = be.set_index("neuron")
        ev["set_size"] = b["be_set_size"].reindex(ev.index)
        ev["stability"] = b["be_stability"].reindex(ev.index)
    if ar is not None:
        ev["ar"] = ar.reindex(ev.index)
    if sanity is not None and metric in sanity.index:
        ev["sanity_passed"] = bool(sanity.loc[metric, "passed"])
    return ev


def filter_layer(view: pd.DataFrame, *, text: str = "", selective_only: bool = False,
                 flagged_only: bool = False) -> pd.DataFrame:
    """Rows of the layer view whose concept columns contain `text` (case-insensitive), etc."""
    out = view
    if text:
        cols = [c for c in out.columns if c.endswith("_concept") or c == "be_set"]
        hit = np.zeros(len(out), dtype=bool)
        for c in cols:
            hit |= out[c].astype(str).str.contains(text, case=False, regex=False).to_numpy()
        out = out[hit]
    if selective_only and "selective" in out:
        out = out[out["selective"].astype(bool)]
    if flagged_only and "n_flags" in out:
        out = out[out["n_flags"].fillna(0) > 0]
    return out


def plottable(view: pd.DataFrame, columns) -> pd.DataFrame:
    """A copy where infinite values (selectivity with median ≤ 0) sit at 10× the largest finite value,
    so they show as the most extreme points instead of vanishing; `<col>_infinite` marks them."""
    out = view.copy()
    for c in columns:
        if c in out and pd.api.types.is_numeric_dtype(out[c]):
            v = out[c].astype(float)
            inf = np.isinf(v)
            if inf.any():
                finite = v[np.isfinite(v)]
                cap = float(finite.abs().max() * 10) if len(finite) and finite.abs().max() > 0 else 1e3
                out[c] = v.where(~inf, np.sign(v) * cap)
                out[f"{c}_infinite"] = inf
    return out


# --------------------------------------------------------------------------- SIEVE verify


def verify_many(ws, neuron: int, concepts, *, generator, m: int = 20, seed: int = 0, control=None,
                threshold=None, progress=None, cancel=None) -> list:
    """SIEVE Verify of several concepts for one neuron, one after the other, sharing the progress bar."""
    from neurodash import sieve

    concepts = list(concepts)
    if not concepts:
        raise ValueError("pick at least one concept to verify")
    out = []
    for i, c in enumerate(concepts):
        span = None if progress is None else (
            lambda f, msg, i=i: progress((i + f) / len(concepts), f"{c}: {msg}"))
        out.append(sieve.verify(ws, neuron, c, generator=generator, m=m, seed=seed, control=control,
                                threshold=threshold, progress=span, cancel=cancel))
    return out


def verify_rows(results) -> pd.DataFrame:
    """One row per VerifyResult: AR with its interval next to the control's, and the verdict."""
    rows = [{"concept": r.concept, "AR": r.ar, "AR low": r.interval[0], "AR high": r.interval[1],
             "control": r.control, "control AR": r.control_ar, "control low": r.control_interval[0],
             "control high": r.control_interval[1], "p (AR > control)": r.p_vs_control,
             "threshold": r.threshold, "verdict": r.verdict, "generator": r.generator, "m": r.m}
            for r in results]
    return pd.DataFrame(rows)


def select_summary(sel, neuron: int) -> dict:
    """SIEVE Select over the layer, in words and a table (neuron, ratio, selective), most selective first."""
    ratio = np.asarray(sel.ratio, dtype=np.float64)
    table = pd.DataFrame({"neuron": np.arange(len(ratio)), "P99/median": ratio,
                          "selective": np.asarray(sel.selective, dtype=bool)})
    table = table.sort_values("P99/median", ascending=False, kind="stable")
    r = ratio[neuron]
    return {"n_selective": int(np.sum(sel.selective)), "n_neurons": int(len(ratio)), "table": table,
            "this_selective": bool(sel.selective[neuron]),
            "this_text": "∞ (median ≤ 0)" if np.isinf(r) else f"{r:.3g}"}


# --------------------------------------------------------------------------- triage


def triage_table(evidence: pd.DataFrame, flags: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """The Triage page's table: evidence, automatic flags, and the saved status / manual flags / note."""
    out = evidence.join(flags[["flags", "n_flags"]].rename(columns={"flags": "auto_flags"}))
    idx = out.index.to_numpy()
    out["status"] = [notes[j].status if j in notes else "unreviewed" for j in idx]
    out["manual_flags"] = [", ".join(notes[j].flags) if j in notes else "" for j in idx]
    out["note"] = [notes[j].note if j in notes else "" for j in idx]
    out["updated"] = [notes[j].updated if j in notes else "" for j in idx]
    return out.reset_index()
