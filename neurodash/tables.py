"""CSV export that a spreadsheet cannot turn into a formula: the one writer every CSV export uses
(the CLI's `report --csv` / `layer`, the UI's download buttons).

A cell (or header) that is text starting with ``= + - @`` or a tab / carriage return is prefixed
with an apostrophe (OWASP's advice for CSV injection); numbers stay numbers. Text fields are
quoted, so a carriage return inside a note cannot split a row.
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
    """A copy of ``df`` with every text cell and header neutralised."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv(df: pd.DataFrame, target=None, *, index: bool = False) -> str | None:
    """Write ``df`` as neutralised CSV to a path or text stream; with no target, return the text."""
    safe = safe_frame(df)
    if target is None:
        buf = io.StringIO()
        safe.to_csv(buf, index=index, quoting=csv.QUOTE_NONNUMERIC)
        return buf.getvalue()
    safe.to_csv(target, index=index, quoting=csv.QUOTE_NONNUMERIC)
    return None
