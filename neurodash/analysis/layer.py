"""The layer table: one row per neuron with its best concept, score and band per metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurodash.sieve.select import BETA as SELECTIVITY_BETA
from neurodash.protocol import WorkspaceView
from neurodash.analysis.scores import table1_bands
from neurodash.truth import ground_truth_metric, ground_truth_pairs


def layer_table(ws: WorkspaceView, *, metrics=None, delta: float = 0.05) -> pd.DataFrame:
    """Columns: neuron, selectivity, selective, top1_threshold, {m}_concept, {m}_score, {m}_band
    (nan without a rate) per metric, gt_concept and gt_<metric> (ground truth only). Triage notes
    are not in it (it is cached; they change): join them with `annotations.annotation_columns`."""
    metrics = list(metrics or ws.default_metrics())
    names = np.asarray(ws.concept_names, dtype=object)
    neurons = np.arange(ws.n_neurons)
    df = pd.DataFrame({"neuron": neurons})
    sel = ws.selectivity()
    df["selectivity"] = sel
    df["selective"] = sel > SELECTIVITY_BETA
    df["top1_threshold"] = ws.top1_threshold()
    for m in metrics:
        S = ws.metric_matrix(m)
        best = np.argmax(np.nan_to_num(S, nan=-np.inf), axis=1)
        df[f"{m}_concept"] = names[best]
        df[f"{m}_score"] = S[neurons, best]
        df[f"{m}_band"] = table1_bands(ws, m, neurons, best, delta)
    if ws.has_ground_truth:
        pairs = ground_truth_pairs(ws)
        gt_metric = ground_truth_metric(ws)
        S = ws.metric_matrix(gt_metric)
        df["gt_concept"] = [names[c] for _, c in pairs]
        df[f"gt_{gt_metric}"] = [S[k, c] for k, c in pairs]
    return df
