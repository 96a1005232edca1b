"""Shared widgets: error guard, image grid with heatmap overlays, downloads, progress adapter."""

from __future__ import annotations

import contextlib
import json
import string

import pandas as pd
import streamlit as st

from neurodash.ui import overlay as _overlay


@contextlib.contextmanager
def guard(what: str, *, stop: bool = False):
    """Turn any error a user can cause inside the block into a readable st.error (no traceback).

    Streamlit's own control flow (st.stop, st.rerun, switch_page) derives from BaseException and
    passes through untouched. With stop=True the page stops after the message (the rest of the
    page depends on what failed); otherwise the page goes on below.
    """
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the message is the product here
        st.error(f"{literal(what)}: {literal(_message(err))}")  # messages quote paths and names: text only
        if stop:
            st.stop()


def _message(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    # KeyError wraps its message in quotes; show the words, not the repr
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = str(err.args[0])
    return text


_PUNCT = frozenset(string.punctuation)


def literal(text) -> str:
    """`text` as markdown that renders exactly as its text: every ASCII punctuation character is
    backslash-escaped (CommonMark reads any escaped punctuation as the character itself), so a link,
    an image reference, Streamlit's :color[...] / :icon: directives, $math$ or an HTML tag in user
    text stay visible text; newlines stay line breaks. Use it for every user- or file-controlled
    value (URL values, concept names, file names, notes, flags) put into a markdown body (st.markdown,
    st.error/warning/info/success, st.caption, st.metric values, widget labels)."""
    out = "".join("\\" + ch if ch in _PUNCT else ch for ch in str(text))
    return out.replace("\r", "").replace("\n", "  \n")


def progress_callback(bar, *, eta: bool = False):
    """Adapt a st.progress element to the project's progress(fraction, message) convention.

    eta=True adds the time left, extrapolated from the rate measured so far (after 3% and 2 s).
    """
    import time

    start = time.monotonic()

    def report(fraction: float, message: str = "") -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        text = message or ""
        if eta:
            spent = time.monotonic() - start
            if f >= 1.0:
                pass
            elif f >= 0.03 and spent >= 2.0:
                text += f" · about {spent * (1 - f) / f:.0f} s left"
            else:
                text += " · measuring the rate…"
        bar.progress(f, text=text or None)
    return report


def image_grid(images, captions, *, heat=None, heat_scale: float | None = None, columns: int = 8,
               size: int = 128, key: str | None = None) -> None:
    """A grid of uint8 (k,H,W,3) images, each upscaled to `size`, with optional heat maps (k,h,w) on top;
    or of ready-made JPEG tiles (bytes, e.g. loaders.top_tiles), sent as they are (no decode or re-encode per run).

    All maps share one scale (default: the largest map value shown), so a faint overlay is a weak response.
    """
    k = len(images)
    if k == 0:
        st.caption("no images")
        return
    fmt = "auto"
    if isinstance(images[0], (bytes, bytearray)):
        tiles, fmt = list(images), _overlay.TILE_FORMAT
    else:
        if heat is not None and heat_scale is None:
            heat_scale = float(max(float(m.max()) for m in heat))
        tiles = [_overlay.overlay(images[i], heat[i], heat_scale, size=size) if heat is not None
                 else _overlay.upscale(images[i], size) for i in range(k)]
    for start in range(0, k, columns):
        cols = st.columns(columns)
        for col, i in zip(cols, range(start, min(start + columns, k))):
            col.image(tiles[i], caption=captions[i], width="stretch", output_format=fmt)


def downloads(df: pd.DataFrame, stem: str, *, key: str) -> None:
    """CSV and JSON export buttons for a table."""
    c1, c2 = st.columns(2)
    from neurodash.reports.export import to_csv

    c1.download_button("Export CSV", to_csv(df).encode(), file_name=f"{stem}.csv",
                       mime="text/csv", key=f"{key}_csv")
    records = json.loads(df.to_json(orient="records"))
    c2.download_button("Export JSON", json.dumps(records, indent=1).encode(), file_name=f"{stem}.json",
                       mime="application/json", key=f"{key}_json")
