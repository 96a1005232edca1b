"""`python -m neurodash verify` (neurodash.cli.verify) through neurodash.cli.main, on the stand-in workspace."""

import json

import pytest

import neurodash.cli as cli
from neurodash.cli import options


class _Recipe:
    def to_dict(self):
        return {"model": "stand-in colour detector"}

    def label(self):
        return "stand-in"


@pytest.fixture
def cli_ws(stand_in, colour_clip, monkeypatch):
    monkeypatch.setattr(stand_in, "recipe", _Recipe(), raising=False)
    monkeypatch.setattr(options, "open_workspace", lambda args, compute=True: stand_in)
    return stand_in


def test_verify_json(cli_ws, capsys):
    assert cli.main(["verify", "--neuron", "0", "--concept", "red", "--m", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("ar", "interval", "control", "control_ar", "threshold", "verdict", "p_vs_control"):
        assert key in out
    assert out["concept"] == "red" and out["m"] == 30 and out["ar"] > out["control_ar"]
    assert out["verdict"] in ("verified", "rejected")
    assert "mean AR" in out["threshold_source"]


def test_verify_text_and_fixed_threshold(cli_ws, capsys):
    assert cli.main(["verify", "--neuron", "1", "--concept", "blue", "--threshold", "0.2"]) == 0
    text = capsys.readouterr().out
    assert "AR" in text and "control" in text and "threshold 0.200 (given)" in text


def test_layer_table_json(cli_ws, capsys):
    assert cli.main(["verify", "--layer-table", "--json", "--m", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    sources = {r["source"] for r in out["rows"]}
    assert "SIEVE, verified hypotheses" in sources and "NetDissect (best IoU)" in sources
    assert out["selective_neurons"] == 2


def test_bad_input_is_one_clear_line(cli_ws, capsys):
    assert cli.main(["verify", "--neuron", "0"]) == cli.EXIT_ERROR
    assert "needs --concept" in capsys.readouterr().err
    assert cli.main(["verify", "--neuron", "0", "--concept", "red", "--generator", "diffusers"]) == cli.EXIT_ERROR
    assert "needs a model" in capsys.readouterr().err
    assert cli.main(["verify", "--neuron", "0", "--concept", "unicorn", "--threshold", "0.5",
                     "--control", "circle"]) == cli.EXIT_ERROR
    assert "knows no concept" in capsys.readouterr().err
