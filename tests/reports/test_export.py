"""neurodash.reports.export: the one CSV writer keeps text cells text."""

import io

import pandas as pd

from neurodash import reports


def test_formula_prefixes_are_neutralised_numbers_kept():
    df = pd.DataFrame({"note": ["=HYPERLINK(\"x\")", "+1", "-cmd", "@SUM(A1)", "plain", None],
                       "score": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0]})
    back = pd.read_csv(io.StringIO(reports.to_csv(df)))
    assert back["note"].tolist()[:5] == ["'=HYPERLINK(\"x\")", "'+1", "'-cmd", "'@SUM(A1)", "plain"]
    assert back["score"].tolist()[0] == -0.5  # numbers stay numbers
    assert df["note"].iloc[0].startswith("=")  # the caller's frame is untouched
