"""neurodash.ui.charts: the figures carry what the pages promise (one threshold line, the current n, ...)."""

import pandas as pd

from neurodash.ui import charts


def test_planner_marks_the_current_probe_size_in_data_coordinates():
    curves = pd.DataFrame({"metric": ["iou"] * 3 + ["recall"] * 3, "n": [100, 1000, 10000] * 2,
                           "band": [1.0, 0.3, 0.1, 2.0, 0.6, 0.2]})
    needed = pd.DataFrame({"metric": ["iou"], "probe_size": [10000], "band_at_size": [0.1]})
    fig = charts.planner_curves(curves, 0.1, needed, current_n=2000)
    mark = [t for t in fig.data if t.name and t.name.startswith("this workspace")]
    assert len(mark) == 1 and list(mark[0].x) == [2000, 2000]  # a trace: a shape would need log10(n)
    dashes = {t.line.dash for t in fig.data if t.name in ("iou", "recall")}
    assert len(dashes) == 2  # coinciding curves stay distinguishable


def test_coverage_by_set_size():
    summary = pd.DataFrame({"what": ["observed", "claimed"], "value": [0.5, 0.0]})
    be = pd.DataFrame({"neuron": [0, 1, 2, 3], "be_set_size": [1, 1, 3, 3], "gt_in_set": [True, False, True, True]})
    fig = charts.coverage_bars(summary, be)
    held = next(t for t in fig.data if t.name == "set holds the truth")
    missed = next(t for t in fig.data if t.name == "set misses it")
    assert dict(zip(held.x, held.y)) == {1: 1, 3: 2} and dict(zip(missed.x, missed.y)) == {1: 1}
