"""SIEVE Verify: a generator renders m images of the concept, the workspace's model reads them,
and the Activation Rate (AR) is the share whose pooled activation beats the neuron's top-1% probe
threshold; with a binomial interval, and beside it the ARs (with intervals) of a control concept
and of a random concept (the floor any explanation should beat)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np

from neurodash.protocol import ProbeView
from neurodash.progress import Progress, report, span
from neurodash.sieve.control import choose_control
from neurodash.sieve.layer import sieve_run
from neurodash.sieve.renders import activation_hits, activation_thresholds, as_generator, render_activations
from neurodash.sieve.select import BETA
from neurodash.stats.proportion import binomial_interval, compare_rates
from neurodash.sieve.renders import DEFAULT_M

NO_RANDOM = ""  # random_concept of a result made without one


@dataclass
class VerifyResult:
    neuron: int
    concept: str
    generator: str
    m: int
    seed: int
    hits: int
    ar: float
    interval: tuple[float, float]
    control: str
    control_hits: int
    control_ar: float
    control_interval: tuple[float, float]
    threshold: float  # the AR a hypothesis must reach to be kept
    threshold_source: str
    passed: bool  # ar >= threshold
    p_vs_control: float  # Fisher exact, one-sided: AR > control AR
    activation_threshold: float  # the neuron's top-1% (top_fraction) probe activation
    activations: list[float]  # pooled activation of each render
    confidence: float = 0.95
    top_fraction: float = 0.01  # activation_threshold is the neuron's top-`top_fraction` probe value
    random_concept: str = NO_RANDOM  # a seeded uniform draw from the workspace's other concepts
    random_hits: int = 0
    random_ar: float = float("nan")
    random_interval: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def verdict(self) -> str:
        return "verified" if self.passed else "rejected"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["interval"] = list(self.interval)
        d["control_interval"] = list(self.control_interval)
        d["random_interval"] = list(self.random_interval)
        return d


def random_concept(ws: ProbeView, concept: str, seed: int) -> str:
    """A concept of the workspace other than `concept`, drawn uniformly (seeded)."""
    pool = [c for c in ws.concept_names if c != concept]
    if not pool:
        return NO_RANDOM
    return pool[int(np.random.default_rng([int(seed), 7]).integers(len(pool)))]


def verify(ws: ProbeView, neuron: int, concept: str, *, generator: Any = "world", m: int = DEFAULT_M, seed: int = 0,
           control: Optional[str] = None, threshold: Optional[float] = None, confidence: float = 0.95,
           method: str = "wilson", beta: float = BETA, top_fraction: float = 0.01,
           progress: Optional[Progress] = None, cancel: Any = None) -> VerifyResult:
    """SIEVE Verify: the Activation Rate of `concept` for `neuron`, its interval, and a control's.

    threshold: the AR a hypothesis must reach to be kept. None -> the paper's rule, the mean AR of
    all of SIEVE's hypotheses on this layer (computed with the same generator, m and seed, and
    cached; see sieve_run). A float in [0, 1] fixes it.
    The control's renders use seed + 1 and the random concept's seed + 2, so they never share
    noise with the hypothesis's.
    """
    generator = as_generator(generator)
    neuron = int(neuron)
    if not 0 <= neuron < int(ws.n_neurons):
        raise ValueError(f"neuron {neuron} is out of range: this layer has {ws.n_neurons} neurons")
    if m < 1:
        raise ValueError("m must be at least 1")
    thresholds = activation_thresholds(ws, top_fraction)
    control = choose_control(ws, concept) if control is None else control
    acts = render_activations(ws, concept, generator=generator, m=m, seed=seed,
                              progress=span(progress, 0.0, 0.4), cancel=cancel)
    ctrl = render_activations(ws, control, generator=generator, m=m, seed=seed + 1,
                              progress=span(progress, 0.4, 0.6), cancel=cancel)
    rand = random_concept(ws, concept, seed)
    rhits = 0
    if rand != NO_RANDOM:
        racts = render_activations(ws, rand, generator=generator, m=m, seed=seed + 2,
                                   progress=span(progress, 0.6, 0.8), cancel=cancel)
        rhits = int(activation_hits(racts[:, [neuron]], thresholds[[neuron]]).sum())
    hits = int(activation_hits(acts[:, [neuron]], thresholds[[neuron]]).sum())
    chits = int(activation_hits(ctrl[:, [neuron]], thresholds[[neuron]]).sum())
    if threshold is None:
        run = sieve_run(ws, generator=generator, m=m, seed=seed, beta=beta, top_fraction=top_fraction,
                        progress=span(progress, 0.8, 1.0), cancel=cancel)
        threshold, source = run["mean_ar"], f"mean AR of {len(run['hypotheses'])} SIEVE hypotheses on this layer"
        if not np.isfinite(threshold):
            threshold, source = 0.5, "0.5 (no SIEVE hypotheses on this layer to average)"
    else:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"the AR threshold must lie in [0, 1], got {threshold}")
        source = "given"
    report(progress, 1.0, "verified")
    return VerifyResult(
        neuron=neuron, concept=concept, generator=generator.name, m=int(m), seed=int(seed),
        hits=hits, ar=hits / m, interval=binomial_interval(hits, m, confidence, method),
        control=control, control_hits=chits, control_ar=chits / m,
        control_interval=binomial_interval(chits, m, confidence, method),
        threshold=float(threshold), threshold_source=source, passed=bool(hits / m >= float(threshold)),
        p_vs_control=compare_rates(hits, m, chits, m).p_value,
        activation_threshold=float(thresholds[neuron]), activations=[float(a) for a in acts[:, neuron]],
        confidence=confidence, top_fraction=float(top_fraction),
        random_concept=rand, random_hits=rhits, random_ar=(rhits / m if rand != NO_RANDOM else float("nan")),
        random_interval=(binomial_interval(rhits, m, confidence, method) if rand != NO_RANDOM
                         else (float("nan"), float("nan"))))
