"""The view's choices <-> the URL (st.query_params), so a link opens the exact view.

The session state is the source of truth while a session lives; the URL seeds it when a session
starts (a link was opened) and mirrors it after every run. Query parameter names are the Recipe's
field names plus ``neuron``; the page is the URL path (``/layer``), or ``?page=layer`` at the root.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

# Session-state key of each choice (widget keys share these names).
STATE_PREFIX = "nd_"
SEEDED = "nd__seeded"  # set once the URL has seeded this session
GOTO = "nd__goto"  # pending choices to apply before the widgets are built (see request())


def state_key(name: str) -> str:
    return STATE_PREFIX + name


def seed_from_url(names: list[str]) -> dict[str, str]:
    """On a session's first run, return the URL's values for `names` (others are ignored); later {}."""
    if st.session_state.get(SEEDED):
        return {}
    st.session_state[SEEDED] = True
    qp = st.query_params
    return {n: qp[n] for n in names if n in qp and qp[n] != ""}


def request(**choices) -> None:
    """Ask for new choices (e.g. open neuron 12) from below the sidebar; applied on the next run.

    Widget values cannot be changed after their widget was drawn in this run, so they are parked
    here and applied by `take_requests()` before the sidebar draws its widgets.
    """
    pending = dict(st.session_state.get(GOTO, {}))
    pending.update({k: v for k, v in choices.items()})
    st.session_state[GOTO] = pending


def take_requests() -> dict:
    return dict(st.session_state.pop(GOTO, {}) or {})


def mirror_to_url(values: dict[str, object], managed=()) -> None:
    """Write the current choices into the URL, touching only the keys whose value changed.

    Keys in `managed` but not in `values` (or None) are removed: the URL says only what differs.
    """
    qp = st.query_params
    for k in managed:
        if (k not in values or values[k] is None) and k in qp:
            del qp[k]
    for k, v in values.items():
        if v is None:
            continue
        if qp.get(k) != str(v):
            qp[k] = str(v)
    if "page" in qp:  # the page now lives in the path; drop the root alias once it was honoured
        del qp["page"]


def share_link(page_path: str, values: dict[str, object]) -> str:
    """An absolute link to `page_path` with the choices; relative when the server URL is unknown."""
    query = urlencode({k: str(v) for k, v in values.items() if v is not None and v != ""})
    base = ""
    try:
        url = st.context.url  # e.g. http://host:8501/neuron?x=1 in a browser; may be absent in tests
    except Exception:  # noqa: BLE001 - no request context (AppTest): fall back to a relative link
        url = None
    if url:
        parts = urlsplit(url)
        base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return f"{base}/{page_path.strip('/')}?{query}"
