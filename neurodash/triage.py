"""Automatic triage flags: the reasons not to trust a neuron's explanation yet, as plain data.

Each flag is True (raised), False (checked, fine) or None (not known: its evidence was not
computed). Inputs are per-neuron columns of a table the caller assembles (see
reports.triage_table), so the rules are testable on hand-made rows.

- unstable_be:        the bootstrap ensemble's prediction set holds more than one concept, or its
                      most frequent winner wins fewer than `min_stability` of the resamples;
- band_overlap:       the plug-in gap between the best and the runner-up concept is smaller than
                      the Cor. 3.2 band 2r(δ/|C|): on another probe of the same size the runner-up
                      could win;
- not_selective:      SIEVE Select finds the neuron not selective (P99/median <= β);
- low_ar:             the chosen concept's Activation Rate on generated images is below `min_ar`;
- metric_fails_sanity: the chosen metric fails NeuronEval's missing- or extra-labels test on this
                      workspace (a property of the metric here, so it marks every neuron).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

FLAGS: dict[str, str] = {
    "unstable_be": "unstable BE set",
    "band_overlap": "band overlaps the runner-up",
    "not_selective": "not selective",
    "low_ar": "low AR",
    "metric_fails_sanity": "chosen metric fails a sanity check",
}


@dataclass(frozen=True)
class Thresholds:
    min_stability: float = 0.8  # share of resamples the BE top concept must win
    max_set_size: int = 1  # a BE set larger than this is unstable
    min_ar: float = 0.5  # Activation Rate below this is low


def _known(v) -> bool:
    if v is None:
        return False
    try:
        return not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v)
    except (TypeError, ValueError):
        return True


def neuron_flags(*, set_size=None, stability=None, gap=None, band=None, selective=None, ar=None,
                 sanity_passed=None, th: Thresholds = Thresholds()) -> dict[str, bool | None]:
    """The five automatic flags of one neuron; None where the evidence is missing."""
    unstable = None
    if _known(set_size) or _known(stability):
        unstable = bool((_known(set_size) and int(set_size) > th.max_set_size)
                        or (_known(stability) and float(stability) < th.min_stability))
    overlap = None
    if _known(gap) and _known(band):
        overlap = bool(float(gap) < float(band))
    return {
        "unstable_be": unstable,
        "band_overlap": overlap,
        "not_selective": None if not _known(selective) else not bool(selective),
        "low_ar": None if not _known(ar) else bool(float(ar) < th.min_ar),
        "metric_fails_sanity": None if not _known(sanity_passed) else not bool(sanity_passed),
    }


def flag_table(evidence: pd.DataFrame, th: Thresholds = Thresholds()) -> pd.DataFrame:
    """Flags for every row of `evidence` (columns as neuron_flags' arguments; missing ones = unknown).

    Returns a DataFrame with the same index, one nullable-boolean column per flag, plus
    `flags` (the raised flags' labels joined by ", ") and `n_flags`.
    """
    cols = ("set_size", "stability", "gap", "band", "selective", "ar", "sanity_passed")
    rows = []
    for _, r in evidence.iterrows():
        rows.append(neuron_flags(**{c: r.get(c) for c in cols if c in evidence.columns}, th=th))
    out = pd.DataFrame(rows, index=evidence.index, columns=list(FLAGS)).astype("boolean")
    raised = out.fillna(False).astype(bool)
    out["flags"] = [", ".join(FLAGS[f] for f in FLAGS if row[f]) for _, row in raised.iterrows()]
    out["n_flags"] = raised.sum(axis=1).astype(int)
    return out
