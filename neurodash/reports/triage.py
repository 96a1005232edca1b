"""Plain data for the Triage page: the evidence behind the automatic flags (the chosen concept's AR
among it) and the table of flags, status and notes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurodash import sieve
from neurodash.annotations import annotation_columns


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
    concepts = table[f"{metric}_concept"].tolist()
    rates = sieve.ar_by_concept(ws, concepts, generator=generator, m=m, seed=seed, progress=progress,
                                cancel=cancel)
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


def triage_table(evidence: pd.DataFrame, flags: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """The Triage page's table: evidence, automatic flags, and the saved status / manual flags / note."""
    out = evidence.join(flags[["flags", "n_flags"]].rename(columns={"flags": "auto_flags"}))
    out = out.join(annotation_columns(notes, out.index))
    return out.reset_index()
