"""Plain data for the Layer and Coverage pages: BE over the layer, observed vs claimed coverage, the
layer view with its filters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurodash import analysis
from neurodash.annotations import annotation_columns
from neurodash.progress import check
from neurodash.truth import ground_truth_pairs


def layer_be(ws, *, metric: str, K: int = 100, seed: int = 0, t=None, delta: float = 0.05,
             progress=None, cancel=None) -> pd.DataFrame:
    """BE for every neuron of the layer (each cached on disk by the workspace), one row per neuron."""
    names = ws.concept_names
    truth = dict(ground_truth_pairs(ws)) if ws.has_ground_truth else {}
    rows = []
    N = ws.n_neurons
    for j in range(N):
        check(cancel, "BE over the layer")
        r = analysis.bootstrap(ws, j, metric=metric, K=K, seed=seed, t=t, delta=delta)
        row = {"neuron": j, "be_set": ", ".join(r.prediction_names), "be_set_size": len(r.prediction_set),
               "be_stability": r.stability, "be_top": names[int(np.argmax(r.histogram))], "be_gap": r.gap,
               "be_p": r.p, "be_coverage": (0.0 if r.vacuous else r.coverage),
               "be_coverage_printed": (0.0 if r.vacuous else r.coverage_printed), "be_vacuous": r.vacuous}
        if truth:
            row["gt_concept"] = names[truth[j]]
            row["gt_in_set"] = truth[j] in r.prediction_set
        rows.append(row)
        if progress is not None:
            progress((j + 1) / N, f"BE {metric}: neuron {j + 1}/{N}")
    return pd.DataFrame(rows)


def coverage_summary(be: pd.DataFrame) -> dict:
    """Observed share of neurons whose BE set holds the ground-truth concept vs the Thm 4.1 claim.

    The claim per neuron is Thm 4.1's lower bound (derived form, Eq. 16), counted as 0 where it is vacuous; its mean over
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
    """The Layer page's table: the layer table joined with BE, automatic flags where known, and the
    saved status and manual flags (`notes`: Annotations.all(), read fresh)."""
    out = table.copy()
    if notes is not None:
        cols = annotation_columns(notes, out["neuron"])
        out["status"] = cols["status"].to_numpy()
        out["manual_flags"] = cols["manual_flags"].to_numpy()
    if be is not None:
        cols = [c for c in ("be_set", "be_set_size", "be_stability") if c in be]
        out = out.merge(be[["neuron"] + cols], on="neuron", how="left")
    if flags is not None:
        auto = (flags[["severity", "flags", "n_flags", "reasons"]].rename(columns={"flags": "auto_flags"})
                .rename_axis("neuron").reset_index())
        out = out.merge(auto, on="neuron", how="left")
    return out


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


def column_groups(columns, metrics) -> dict[str, str]:
    """Display labels that group the layer table's columns: "iou · concept", "BE · stability", ..."""
    out = {}
    for c in columns:
        m = next((m for m in metrics if c.startswith(f"{m}_")), None)
        if m is not None:
            out[c] = f"{m} · {c[len(m) + 1:]}"
        elif c.startswith("be_"):
            out[c] = f"BE · {c[3:].replace('_', ' ')}"
        elif c.startswith("gt_"):
            out[c] = f"truth · {c[3:].replace('_', ' ')}"
        elif c in ("severity", "auto_flags", "n_flags", "reasons"):
            out[c] = f"flags · {c.replace('auto_', '').replace('_', ' ')}"
        elif c in ("status", "manual_flags"):
            out[c] = f"triage · {c.replace('_', ' ')}"
        elif c in ("selectivity", "selective", "top1_threshold"):
            out[c] = f"SIEVE · {c.replace('_', ' ')}"
    return out
