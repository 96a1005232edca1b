"""Plain data for the Verify page: several concepts verified in one job, their result rows, Select
in words."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from neurodash import sieve
from neurodash.progress import span
from neurodash.sieve.renders import DEFAULT_M


def verify_many(ws, neuron: int, concepts, *, generator, m: int = DEFAULT_M, seed: int = 0, control=None,
                threshold=None, progress=None, cancel=None) -> list:
    """SIEVE Verify of several concepts for one neuron, one after the other, sharing the progress bar."""
    concepts = list(concepts)
    if not concepts:
        raise ValueError("pick at least one concept to verify")
    out = []
    for i, c in enumerate(concepts):
        out.append(sieve.verify(ws, neuron, c, generator=generator, m=m, seed=seed, control=control,
                                threshold=threshold, cancel=cancel,
                                progress=span(progress, i / len(concepts), (i + 1) / len(concepts), f"{c}: ")))
    return out


def judge(results, threshold: float, source: str) -> list:
    """The same Verify results judged against another keep-threshold (the layer's mean AR once known)."""
    return [dataclasses.replace(r, threshold=float(threshold), threshold_source=source,
                                passed=bool(r.ar >= float(threshold))) for r in results]


def keep_threshold(run: dict, fallback: float) -> tuple[float, str]:
    """(threshold, where it comes from) of a sieve_run: the mean AR of its hypotheses, else the fallback."""
    t = run.get("mean_ar", float("nan"))
    if t is None or not np.isfinite(t):
        return float(fallback), f"fixed {fallback:g} (no SIEVE hypotheses on this layer to average)"
    return float(t), f"mean AR of {len(run['hypotheses'])} SIEVE hypotheses on this layer"


def verify_rows(results) -> pd.DataFrame:
    """One row per VerifyResult: AR with its interval next to the control's and a random concept's,
    and the verdict."""
    rows = [{"concept": r.concept, "AR": r.ar, "AR low": r.interval[0], "AR high": r.interval[1],
             "control": r.control, "control AR": r.control_ar, "control low": r.control_interval[0],
             "control high": r.control_interval[1], "random concept": r.random_concept,
             "random AR": r.random_ar, "random low": r.random_interval[0], "random high": r.random_interval[1],
             "p (AR > control)": r.p_vs_control,
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
