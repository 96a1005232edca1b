"""Every CSV the project writes (dashboard downloads, CLI files) goes through `to_csv`.

Text cells that a spreadsheet would read as a formula (starting with = + - @, or a tab / carriage
return before one) get a leading apostrophe, so an exported note or concept name stays text.
"""

from __future__ import annotations

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutral(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot become spreadsheet formulas (numbers are left as they are)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_neutral)
    return out


def to_csv(df: pd.DataFrame, target=None) -> str | None:
    """Write `df` as CSV to `target` (a path or a text stream); returns the text when target is None."""
    return safe_frame(df).to_csv(target, index=False)
