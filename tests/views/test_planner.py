"""Planner page: renders without a workspace, answers the Fig. 3a question, reacts to its inputs."""

import json

from tests.helpers import app_test, open_page


def _needed(at):
    df = at.dataframe[0].value
    return dict(zip(df["metric"], df["probe_size"]))


def test_planner_default_render_and_target_change(nd_home):
    at = open_page("views/planner.py")
    # fix the inputs a workspace may have filled in (its |C| and concept frequency)
    at.number_input(key="planner_C").set_value(100)
    at.number_input(key="planner_freq").set_value(0.05).run()
    needed = _needed(at)
    # accuracy's band 2·sqrt(log(2|C|/δ)/(2n)) = 0.1 at |C|=100, δ=0.05 -> n = ⌈1658.8⌉
    assert needed["accuracy"] == 1659
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"] if t.get("name")} >= {"accuracy", "iou", "recall"}
    at.number_input(key="planner_target").set_value(0.2).run()
    assert not at.exception
    assert _needed(at)["accuracy"] == 415  # a band twice as wide needs a quarter of the images


def test_planner_bad_input_is_a_message(nd_home):
    at = app_test()
    at.run()
    at.switch_page("views/planner.py")
    at.run()
    at.number_input(key="planner_alpha").set_value(0.99).run()  # allowed by the widget
    assert not at.exception
