"""Every CLI value is checked with a clear message (exit 2), never silently replaced, and a refused
command writes no workspace."""

import pytest

from neurodash.cli import main

BAD = [
    (["report", "--neuron", "0", "--probe-n", "0"], "--probe-n: must be an integer ≥ 1"),
    (["report", "--neuron", "0", "--probe-n", "-5"], "--probe-n: must be an integer ≥ 1"),
    (["report", "--neuron", "0", "--probe-seed", "-1"], "--probe-seed: must be an integer ≥ 0"),
    (["report", "--neuron", "0", "--top-concepts", "-1"], "--top-concepts: must be an integer ≥ 1"),
    (["report", "--neuron", "0", "--top-concepts", "0"], "--top-concepts: must be an integer ≥ 1"),
    (["report", "--neuron", "0", "--delta", "nan"], "--delta: 'nan' is not a finite number"),
    (["report", "--neuron", "0", "--delta", "0"], "--delta: must lie strictly between 0 and 1"),
    (["report", "--neuron", "0", "--delta", "1.5"], "--delta: must lie strictly between 0 and 1"),
    (["report", "--neuron", "0", "--delta", "inf"], "--delta: 'inf' is not a finite number"),
    (["report", "--neuron", "0", "--K", "0"], "--K: must be an integer ≥ 1"),
    (["report", "--neuron", "0", "--seed", "-3"], "--seed: must be an integer ≥ 0"),
    (["report", "--neuron", "-1"], "--neuron: must be an integer ≥ 0"),
    (["report", "--neuron", "x"], "--neuron: 'x' is not an integer"),
    (["report", "--neuron", "0", "--metrics", "iou,nope"], "--metrics: unknown metric(s) nope"),
    (["report", "--neuron", "0", "--metrics", ","], "--metrics: unknown metric(s)"),
    (["report", "--neuron", "0", "--be-metric", "nope"], "--be-metric: invalid choice"),
    (["layer", "--delta", "-0.1"], "--delta: must lie strictly between 0 and 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--m", "0"], "--m: must be an integer ≥ 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--steps", "0"], "--steps: must be an integer ≥ 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--batch-size", "0"],
     "--batch-size: must be an integer ≥ 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--confidence", "1"],
     "--confidence: must lie strictly between 0 and 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--top-fraction", "0"],
     "--top-fraction: must lie strictly between 0 and 1"),
    (["verify", "--neuron", "0", "--concept", "red", "--threshold", "2"], "--threshold: must lie in [0, 1]"),
    (["verify", "--neuron", "0", "--concept", "red", "--beta", "-1"], "--beta: must be a number > 0"),
    (["verify", "--neuron", "0", "--concept", "red", "--beta", "nan"], "--beta: 'nan' is not a finite number"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a[2:] if a[0] != "layer" else a) for a, _ in BAD])
def test_bad_values_are_refused_with_a_clear_message(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--home", str(tmp_path / "h")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "h").exists()  # nothing written
