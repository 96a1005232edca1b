"""Plain data for the Triage page: the evidence behind the automatic flags (the chosen concept's AR
among it) and the table of flags, status and notes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurodash import sieve
from neurodash.annotations import annotation_columns
from neurodash.triage import REASON_SEP
from neurodash.sieve.renders import DEFAULT_M


def top_two_gap(scores) -> np.ndarray:
    """Per neuron (rows of an N×C score matrix): best minus runner-up score (nan-safe; 0 with one concept)."""
    S = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    if S.shape[1] < 2:
        return np.zeros(S.shape[0])
    top2 = -np.sort(-S, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):  # -inf - -inf: a neuron with no finite score
        gap = top2[:, 0] - top2[:, 1]
    return np.where(np.isfinite(gap), gap, np.nan)


def chosen_concept_ar(ws, table: pd.DataFrame, metric: str, *, generator="world", m: int = DEFAULT_M, seed: int = 0,
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
                    ar: pd.Series | None = None) -> pd.DataFrame:
    """Per-unit inputs of neurodash.triage.flag_table, from what has been computed (rest unknown).

    Workspace-wide evidence (a metric failing the sanity tests) is not here: see
    triage.workspace_warnings."""
    ev = pd.DataFrame(index=pd.Index(table["neuron"].to_numpy(), name="neuron"))
    ev["concept"] = table[f"{metric}_concept"].to_numpy()
    ev["score"] = table[f"{metric}_score"].to_numpy()
    ev["gap"] = top_two_gap(ws.metric_matrix(metric))[ev.index.to_numpy()]
    ev["band"] = table[f"{metric}_band"].to_numpy()
    ev["selective"] = table["selective"].to_numpy()
    ev["selectivity"] = table["selectivity"].to_numpy()
    if be is not None:
        b = be.set_index("neuron")
        ev["set_size"] = b["be_set_size"].reindex(ev.index)
        ev["stability"] = b["be_stability"].reindex(ev.index)
    if ar is not None:
        ev["ar"] = ar.reindex(ev.index)
    return ev


AUTO_COLUMNS = {"severity": "severity", "flags": "auto_flags", "n_flags": "n_flags", "reasons": "reasons"}


def triage_table(evidence: pd.DataFrame, flags: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """The triage queue: evidence, automatic flags with severity and reasons, and the saved status /
    manual flags / note; most severe first (ties by unit id)."""
    out = evidence.join(flags[list(AUTO_COLUMNS)].rename(columns=AUTO_COLUMNS))
    out = out.join(annotation_columns(notes, out.index))
    out = out.reset_index().sort_values(["severity", "neuron"], ascending=[False, True], kind="stable")
    front = ["neuron", "severity", "auto_flags", "reasons", "concept", "score"]
    return out[front + [c for c in out.columns if c not in front]].reset_index(drop=True)


def unit_flags(flags: pd.DataFrame, neuron: int) -> dict:
    """One unit's automatic flags: {"flags": [labels], "reasons": [str], "severity": float, "rank": int}
    (rank 1 = the most severe unit of the layer)."""
    row = flags.loc[int(neuron)]
    order = flags.reset_index().sort_values(["severity", flags.index.name or "index"], ascending=[False, True],
                                            kind="stable")
    rank = int(np.flatnonzero(order.iloc[:, 0].to_numpy() == int(neuron))[0]) + 1
    return {"flags": [f for f in row["flags"].split(", ") if f], "reasons": [r for r in row["reasons"].split(REASON_SEP) if r],
            "severity": float(row["severity"]), "rank": rank, "of": len(flags)}


def unit_be_rows(neuron: int, summary: dict) -> pd.DataFrame:
    """One unit's BE summary (reports.be_summary) in the shape of the layer's BE table."""
    return pd.DataFrame({"neuron": [int(neuron)], "be_set_size": [summary["set_size"]],
                         "be_stability": [summary["stability"]]})
