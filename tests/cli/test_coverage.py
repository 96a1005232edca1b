"""`python -m neurodash coverage --json` end to end on a small world (random-init CNN weights)."""
import json

from neurodash.cli import main


def test_coverage_json_end_to_end(tmp_path, cnn_weights, capsys):
    args = ["coverage", "--weights", str(cnn_weights), "--layer", "block2", "--sizes", "40,80", "--K", "10",
            "--home", str(tmp_path), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fresh"]["n"] == 10 * 80 and out["fresh"]["seed"] != 0  # another seed, >= 10x bigger
    assert [r["n"] for r in out["sizes"]] == [40, 80]
    for r in out["sizes"]:
        assert r["units"] == 64  # block2
        assert 0 <= r["observed"] <= 1 and 0 <= r["claimed"] <= 1
        assert 0 <= r["non_vacuous"] <= r["units"] and r["mean_set_size"] >= 1
    assert out["metric"] == "iou" and out["K"] == 10 and out["t"] == 9.5


def test_coverage_refuses_a_small_fresh_probe(tmp_path, cnn_weights, capsys):
    assert main(["coverage", "--weights", str(cnn_weights), "--sizes", "40", "--fresh-factor", "2",
                 "--home", str(tmp_path)]) == 2
    assert "at least 10" in capsys.readouterr().err


def test_default_sizes_lead_up_to_the_probe_size():
    from neurodash.coverage import default_sizes

    assert default_sizes(2000) == [250, 500, 1000, 2000]
    assert default_sizes(200) == [50, 100, 200]
