"""reports.export (the one CSV writer) neutralises spreadsheet formulas in text cells and headers; numbers stay numbers."""

import csv
import io

import pandas as pd
import pytest

from neurodash.reports import export as tables


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"CLICK\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_formula_prefixes_are_neutralised(text):
    out = tables.to_csv(pd.DataFrame({"note": [text], "score": [-0.5]}))
    row = next(csv.DictReader(io.StringIO(out, newline="")))
    assert row["note"] == "'" + text and row["score"] == "-0.5"


def test_plain_text_headers_and_files(tmp_path):
    df = pd.DataFrame({"=evil": ["ok", None], "n": [1, 2]})
    text = tables.to_csv(df)
    assert text.splitlines()[0] == '"\'=evil","n"' and "ok" in text
    tables.to_csv(df, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text() == text
    assert tables.neutralise(3) == 3 and tables.neutralise("cat") == "cat"


def test_cli_layer_csv_neutralises_notes(built, capsys):
    from neurodash.cli import main
    ws, home, _ = built
    ws.annotations.update(0, note="=HYPERLINK(\"http://evil\",\"fix\")", add_flags=["+cmd"])
    try:
        assert main(["layer", "--weights", ws.recipe.weights, "--probe-n", str(ws.recipe.probe_n),
                     "--layer", ws.recipe.layer, "--home", str(home)]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert rows[0]["note"].startswith("'=") and rows[0]["manual_flags"] == "'+cmd"
    finally:
        ws.annotations.clear(0)
