"""Automatic triage flags: the reasons not to trust a unit's explanation yet, as plain data.

Each flag is True (raised), False (checked, fine) or None (not known: its evidence was not
computed). Inputs are per-unit columns of a table the caller assembles (see
reports.triage_evidence), so the rules are testable on hand-made rows.

- unstable_be:   the bootstrap ensemble's prediction set holds more than one concept, or its most
                 frequent winner wins fewer than `min_stability` of the resamples;
- band_overlap:  the plug-in gap between the best and the runner-up concept is smaller than the
                 Cor. 3.2 band 2r(δ/|C|): on another probe of the same size the runner-up could win;
- not_selective: SIEVE Select finds the unit not selective (P99/median <= β);
- low_ar:        the chosen concept's Activation Rate on generated images is below `min_ar`.

A metric failing NeuronEval's sanity tests is a property of the workspace, not of a unit: it is
shown once on the page (`workspace_warnings`), never as a per-unit flag.

Severity ranks the queue: the sum over raised flags of weight × strength, where strength in
[0.5, 1] grows with how far the evidence is past its threshold (a raised flag always counts at
least half its weight). Weights say how directly a flag contradicts the explanation: a concept
whose renders do not fire the unit (low AR) outweighs an unstable set, which outweighs a band
overlap or a non-selective unit (those leave the explanation possible).
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
}
WEIGHTS: dict[str, float] = {"low_ar": 3.0, "unstable_be": 2.0, "band_overlap": 1.0, "not_selective": 1.0}
REASON_SEP = " | "
EVIDENCE = ("set_size", "stability", "gap", "band", "selective", "selectivity", "ar")


@dataclass(frozen=True)
class Thresholds:
    min_stability: float = 0.8  # share of resamples the BE top concept must win
    max_set_size: int = 1  # a BE set larger than this is unstable
    min_ar: float = 0.5  # Activation Rate below this is low
    beta: float = 10.0  # SIEVE Select's β (only quoted in the reason)


def _known(v) -> bool:
    if v is None:
        return False
    try:
        return not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v)
    except (TypeError, ValueError):
        return True


def neuron_flags(*, set_size=None, stability=None, gap=None, band=None, selective=None, ar=None,
                 th: Thresholds = Thresholds(), **_ignored) -> dict[str, bool | None]:
    """The automatic flags of one unit; None where the evidence is missing."""
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
    }


def _clip(x: float) -> float:
    return 0.5 + 0.5 * min(max(float(x), 0.0), 1.0)


def assess(th: Thresholds = Thresholds(), **evidence) -> dict:
    """Flags of one unit with a reason per raised flag and the unit's severity.

    Returns {"flags": neuron_flags(...), "reasons": [str], "severity": float}.
    """
    e = {k: evidence.get(k) for k in EVIDENCE}
    flags = neuron_flags(th=th, **e)
    reasons, severity = [], 0.0
    if flags["low_ar"]:
        ar = float(e["ar"])
        reasons.append(f"low AR: renders of the concept fire it {ar:.2f} of the time (< {th.min_ar:g})")
        severity += WEIGHTS["low_ar"] * _clip(1 - ar / th.min_ar)
    if flags["unstable_be"]:
        parts = []
        if _known(e["set_size"]) and int(e["set_size"]) > th.max_set_size:
            parts.append(f"the BE set holds {int(e['set_size'])} concepts")
        if _known(e["stability"]) and float(e["stability"]) < th.min_stability:
            parts.append(f"its top concept wins {float(e['stability']):.2f} of resamples (< {th.min_stability:g})")
        reasons.append("unstable BE set: " + "; ".join(parts))
        stab = float(e["stability"]) if _known(e["stability"]) else th.min_stability
        extra = int(e["set_size"]) - 1 if _known(e["set_size"]) else 0
        severity += WEIGHTS["unstable_be"] * _clip(max(1 - stab / th.min_stability, 0.25 * extra))
    if flags["band_overlap"]:
        gap, band = float(e["gap"]), float(e["band"])
        reasons.append(f"band overlaps the runner-up: gap {gap:.3f} < band 2r {band:.3f}")
        severity += WEIGHTS["band_overlap"] * _clip(1 - gap / band if band > 0 else 1)
    if flags["not_selective"]:
        ratio = e["selectivity"]
        said = f"P99/median {float(ratio):.3g} ≤ β {th.beta:g}" if _known(ratio) else f"P99/median ≤ β {th.beta:g}"
        reasons.append(f"not selective: {said}")
        severity += WEIGHTS["not_selective"] * _clip(1 - float(ratio) / th.beta if _known(ratio) else 1)
    return {"flags": flags, "reasons": reasons, "severity": round(severity, 3)}


def flag_table(evidence: pd.DataFrame, th: Thresholds = Thresholds()) -> pd.DataFrame:
    """Flags for every row of `evidence` (columns as `EVIDENCE`; missing ones = unknown).

    Returns a DataFrame with the same index: one nullable-boolean column per flag, `flags` (the
    raised flags' labels joined by ", "), `n_flags`, `severity` and `reasons` (joined by REASON_SEP).
    """
    cols = [c for c in EVIDENCE if c in evidence.columns]
    records = evidence[cols].to_dict(orient="records")
    assessed = [assess(th, **r) for r in records]
    out = pd.DataFrame([a["flags"] for a in assessed], index=evidence.index, columns=list(FLAGS)).astype("boolean")
    raised = out.fillna(False).astype(bool)
    out["flags"] = [", ".join(FLAGS[f] for f in FLAGS if row[f]) for row in raised.to_dict(orient="records")]
    out["n_flags"] = raised.sum(axis=1).astype(int)
    out["severity"] = [a["severity"] for a in assessed]
    out["reasons"] = [REASON_SEP.join(a["reasons"]) for a in assessed]
    return out


def workspace_warnings(sanity: pd.DataFrame | None, metric: str) -> list[str]:
    """Warnings about the whole workspace (shown once per page, never per unit)."""
    if sanity is None or metric not in sanity.index or bool(sanity.loc[metric, "passed"]):
        return []
    row = sanity.loc[metric]
    return [f"{metric} fails NeuronEval's sanity tests on this workspace (missing-labels "
            f"{float(row['missing_labels']):.2f}, extra-labels {float(row['extra_labels']):.2f}; both must exceed 0.9): "
            f"every unit's {metric} explanation is suspect, whatever its flags say."]
