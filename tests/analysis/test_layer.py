"""The layer table on a small built workspace."""

import numpy as np
import pandas as pd
import pytest

from neurodash import analysis


def test_layer_table_bands_are_the_card_bands(built):
    ws, _, _ = built
    df = analysis.layer_table(ws, metrics=["iou", "recall", "pearson"])
    assert isinstance(df, pd.DataFrame) and len(df) == 128
    assert {"iou_concept", "iou_score", "iou_band", "selectivity", "gt_concept"} <= set(df.columns)
    assert df["iou_band"].notna().all() and df["pearson_band"].isna().all()
    from neurodash.stats import bounds, metrics as M
    k = 11
    best = int(np.argmax(ws.metric_matrix("iou")[k]))
    active = M.binarize(np.asarray(ws.acts[:, [k]]), M.METRICS["iou"].default_alpha)
    band = bounds.band("iou", active, ws.concepts[:, [best]], 0.05, len(ws.concept_names))
    assert df.loc[k, "iou_band"] == pytest.approx(float(np.ravel(band)[0]))
    # one band path: the card's band of the same (neuron, concept) pair is the table's
    card = analysis.neuron_card(ws, k, metrics=["iou"], top_concepts=1)
    assert card.concepts["iou"][0].band == pytest.approx(df.loc[k, "iou_band"])
