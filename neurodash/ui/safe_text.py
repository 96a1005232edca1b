"""User text shown as text: URL values, concept names, file names, notes and flags are never
interpreted as markdown or HTML.

Streamlit renders the body of st.markdown / st.error / st.warning / st.info / st.success /
st.caption as markdown (with GFM, Streamlit's :color[...] and :icon: directives, $math$). `esc`
backslash-escapes every ASCII punctuation character, which CommonMark always reads as the literal
character, so a link, an image reference, a directive or an HTML tag in user text stays visible text.
Compose messages as  f"Saved {esc(note)}"  and pass them to st.* directly.
"""

from __future__ import annotations

import string

_PUNCT = frozenset(string.punctuation)


def esc(value) -> str:
    """``value`` as markdown that renders exactly as its text (newlines kept as line breaks)."""
    text = str(value)
    out = "".join("\\" + ch if ch in _PUNCT else ch for ch in text)
    return out.replace("\r", "").replace("\n", "  \n")

