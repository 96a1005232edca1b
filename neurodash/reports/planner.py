"""The Planner (Fig. 3a): Cor. 3.2 band against probe size per metric, and the probe size a target
band needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurodash.stats import bounds as _bounds
from neurodash.stats import metrics as _metrics


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


def planner_starting_point(ws) -> dict:
    """The Planner's defaults from a workspace: median concept frequency over concepts present, |C|."""
    present = np.asarray(ws.concepts) >= 0.5
    freq = present.mean(axis=0)
    freq = freq[freq > 0]
    out = {"n_concepts": int(present.shape[1])}
    if freq.size:
        out["freq"] = float(np.clip(np.median(freq), 1e-5, 0.99))
    return out
