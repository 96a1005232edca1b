"""The ground-truth concept of a neuron, chosen in one place: its best pixel-IoU concept where the
probe has masks (the shapes world), else its best image-level IoU concept."""

from __future__ import annotations

import numpy as np

from neurodash.protocol import ProbeView


def ground_truth_metric(ws: ProbeView) -> str:
    return "pixel_iou" if ws.has_masks else "iou"


def ground_truth_pairs(ws: ProbeView) -> list[tuple[int, int]]:
    """(neuron, its best concept) for every neuron (concept 0 where no score is finite)."""
    best = ws.metric_matrix(ground_truth_metric(ws))
    return [(k, int(np.nanargmax(row))) if np.isfinite(row).any() else (k, 0)
            for k, row in enumerate(best)]
