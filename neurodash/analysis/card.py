"""The neuron card: everything the Neuron page shows about one neuron."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from neurodash.protocol import WorkspaceView
from neurodash.analysis.scores import ConceptScore, concept_scores, ranked
from neurodash.truth import ground_truth_metric, ground_truth_pairs
from neurodash.sieve.select import BETA as SELECTIVITY_BETA
from neurodash.workspace import TOP_K


@dataclass
class NeuronCard:
    neuron: int
    layer: str
    n_images: int
    top_ids: np.ndarray
    top_acts: np.ndarray
    top_maps: np.ndarray
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    top1_threshold: float
    selectivity: float
    selective: bool
    concepts: dict[str, list[ConceptScore]]
    ground_truth: ConceptScore | None
    ground_truth_metric: str | None = None  # what ground_truth's score is (pixel_iou or iou)
    delta: float = 0.05

    def to_json(self, *, maps: bool = False) -> dict:
        d = {
            "neuron": self.neuron, "layer": self.layer, "n_images": self.n_images,
            "top_ids": self.top_ids.tolist(), "top_acts": self.top_acts.tolist(),
            "histogram": {"counts": self.hist_counts.tolist(), "edges": self.hist_edges.tolist()},
            "top1_threshold": self.top1_threshold, "selectivity": self.selectivity,
            "selective": self.selective, "delta": self.delta,
            "concepts": {m: [asdict(c) for c in cs] for m, cs in self.concepts.items()},
            "ground_truth": None if self.ground_truth is None else asdict(self.ground_truth),
            "ground_truth_metric": self.ground_truth_metric,
        }
        if maps:
            d["top_maps"] = self.top_maps.tolist()
        return d


def neuron_card(ws: WorkspaceView, neuron: int, *, metrics=None, top_concepts: int = 5,
                delta: float = 0.05) -> NeuronCard:
    if isinstance(top_concepts, bool) or not isinstance(top_concepts, (int, np.integer)) or top_concepts < 1:
        raise ValueError(f"top_concepts must be an integer ≥ 1; got {top_concepts!r}")
    if not (isinstance(delta, (int, float)) and 0.0 < float(delta) < 1.0):  # nan fails too
        raise ValueError(f"delta must lie strictly between 0 and 1; got {delta!r}")
    neuron = ws.neuron(neuron)
    metrics = list(metrics or ws.default_metrics())
    ids, acts, maps = ws.top_images(neuron, TOP_K)
    counts, edges = np.histogram(np.asarray(ws.acts[:, neuron], dtype=np.float64), bins=40)
    concepts = {}
    for m in metrics:
        scores = ws.metric_matrix(m)[neuron]
        concepts[m] = concept_scores(ws, neuron, m, ranked(scores)[:top_concepts], scores, delta)
    sel = float(ws.selectivity()[neuron])
    return NeuronCard(
        neuron=neuron, layer=ws.layer, n_images=ws.n_images, top_ids=ids, top_acts=acts,
        top_maps=maps, hist_counts=counts, hist_edges=edges,
        top1_threshold=float(ws.top1_threshold()[neuron]), selectivity=sel,
        selective=bool(sel > SELECTIVITY_BETA), concepts=concepts,
        ground_truth=_ground_truth(ws, neuron, delta),
        ground_truth_metric=ground_truth_metric(ws) if ws.has_ground_truth else None, delta=delta,
    )


def _ground_truth(ws: WorkspaceView, neuron: int, delta: float) -> ConceptScore | None:
    if not ws.has_ground_truth:
        return None
    metric = ground_truth_metric(ws)
    c = ground_truth_pairs(ws)[neuron][1]
    return concept_scores(ws, neuron, metric, [c], ws.metric_matrix(metric)[neuron], delta)[0]
