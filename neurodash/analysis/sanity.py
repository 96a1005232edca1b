"""NeuronEval's missing/extra-labels sanity tests on the workspace's own data: every neuron paired
with its ground-truth concept (`neurodash.truth`)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neurodash.protocol import WorkspaceView
from neurodash.truth import ground_truth_pairs
from neurodash.cache import CacheError, stable_hash
from neurodash.stats import metrics as M
from neurodash.stats import sanity

log = logging.getLogger("neurodash")


def sanity_report(ws: WorkspaceView, *, metrics=None, seed: int = 0) -> pd.DataFrame:
    """Indexed by metric: missing_labels, extra_labels (Decrease Acc), passed. Cached per args."""
    metrics = [m for m in (metrics or ws.default_metrics()) if m in M.METRICS]
    name = f"sanity/{stable_hash([metrics, seed])[:16]}.json"
    if ws.cache is not None and ws.cache.has(name):
        try:
            return pd.DataFrame(**ws.cache.read_json(name))
        except (CacheError, TypeError, ValueError) as err:
            ws.cache.recomputed(name, err)
    df = sanity.sanity_tests(np.asarray(ws.acts), ws.concepts, ground_truth_pairs(ws), metrics, seed=seed)
    if ws.cache is not None:
        ws.cache.write_json(name, df.to_dict(orient="split"))
    return df
