"""Every CSV the project writes (dashboard downloads, CLI files) goes through `to_csv`.

Text cells AND headers that a spreadsheet would read as a formula (starting with = + - @, or a tab /
carriage return) get a leading apostrophe (OWASP's advice for CSV injection), so an exported note or
concept name stays text; numbers stay numbers. Text fields are quoted, so a carriage return inside a
note cannot split a row.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text value that a spreadsheet would read as a formula, prefixed with ' ; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and headers cannot become spreadsheet formulas."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def to_csv(df: pd.DataFrame, target=None, *, index: bool = False) -> str | None:
    """Write `df` as CSV to `target` (a path or a text stream); returns the text when target is None."""
    safe = safe_frame(df)
    if target is None:
        buf = io.StringIO()
        safe.to_csv(buf, index=index, quoting=csv.QUOTE_NONNUMERIC)
        return buf.getvalue()
    safe.to_csv(target, index=index, quoting=csv.QUOTE_NONNUMERIC)
    return None
