"""Binomial proportions: confidence intervals and a one-sided comparison of two rates.

SIEVE's Activation Rate (AR) is a binomial proportion: k of m generated images push the
neuron above its top-1% probe threshold. With m around 20 a bare AR hides how little it
pins down, so every AR in neurodash comes with an interval from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

METHODS = ("wilson", "clopper-pearson")


def _check(k: int, n: int, confidence: float) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n == 0 (nothing known)."""
    _check(k, n, confidence)
    if n == 0:
        return 0.0, 1.0
    z = float(_st.norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # clip the rounding noise at the edges (k == 0 gives exactly 0 in exact arithmetic)
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval from beta quantiles; conservative by construction."""
    _check(k, n, confidence)
    if n == 0:
        return 0.0, 1.0
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(_st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(_st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def binomial_interval(k: int, n: int, confidence: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Dispatch to one of METHODS."""
    if method == "wilson":
        return wilson_interval(k, n, confidence)
    if method in ("clopper-pearson", "exact"):
        return clopper_pearson_interval(k, n, confidence)
    raise ValueError(f"unknown interval method {method!r}; choose one of {METHODS}")


@dataclass(frozen=True)
class RateComparison:
    """One-sided test that rate A (k_a/n_a) exceeds rate B (k_b/n_b)."""

    difference: float  # k_a/n_a - k_b/n_b
    p_value: float  # Fisher's exact test, alternative "A greater than B"


def compare_rates(k_a: int, n_a: int, k_b: int, n_b: int) -> RateComparison:
    """Fisher's exact one-sided test on the 2x2 table (hits, misses) x (A, B).

    Exact rather than a z-test because SIEVE's samples are small (m ~ 20) and rates near 0 or 1
    are the common case, where normal approximations fail.
    """
    for k, n in ((k_a, n_a), (k_b, n_b)):
        _check(k, n, 0.5)
    if n_a == 0 or n_b == 0:
        return RateComparison(float("nan"), 1.0)
    table = np.array([[k_a, n_a - k_a], [k_b, n_b - k_b]])
    p = float(_st.fisher_exact(table, alternative="greater").pvalue)
    return RateComparison(k_a / n_a - k_b / n_b, p)
