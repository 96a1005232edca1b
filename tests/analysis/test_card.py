"""Neuron cards on a small built workspace: concepts ranked, bands by kind, ground truth."""
import json

import numpy as np
import pytest

from neurodash import analysis
from neurodash.analysis import NeuronCard
from neurodash.workspace import WorkspaceError
from tests.helpers import BUILT_PROBE_N as N_PROBE


def test_neuron_card(built):
    ws, _, _ = built
    card = analysis.neuron_card(ws, 3, metrics=["iou", "pearson", "pixel_iou"], top_concepts=4)
    assert isinstance(card, NeuronCard) and card.hist_counts.sum() == N_PROBE
    iou = card.concepts["iou"]
    assert len(iou) == 4 and [c.score for c in iou] == sorted([c.score for c in iou], reverse=True)
    S = ws.metric_matrix("iou")
    assert iou[0].score == pytest.approx(S[3].max()) and iou[0].band_kind == "table1"
    assert iou[0].band > 0 and iou[0].lo == pytest.approx(max(iou[0].score - iou[0].band / 2, 0.0))
    assert iou[0].hi == pytest.approx(min(iou[0].score + iou[0].band / 2, 1.0))
    p = card.concepts["pearson"][0]
    assert p.band_kind == "empirical" and p.lo <= p.score <= p.hi
    assert card.concepts["pixel_iou"][0].band_kind == "none"
    assert card.ground_truth.concept == ws.concept_names[int(np.argmax(ws.metric_matrix("pixel_iou")[3]))]
    json.dumps(card.to_json())
    with pytest.raises(WorkspaceError, match="outside"):
        analysis.neuron_card(ws, 128)
    with pytest.raises(WorkspaceError, match="unknown metric"):
        ws.metric_matrix("vibes")
