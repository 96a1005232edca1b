"""neurodash: `streamlit run app.py`.

Every page is listed here (st.navigation turns off the automatic pages/ discovery). The sidebar
(workspace, neuron, metric, link) is drawn before the page so every page shares one context.
A link may name its page by path (/layer?...) or, at the root, by ?page=layer.
"""

import streamlit as st

from neurodash import ui

st.set_page_config(page_title="neurodash", page_icon="🧠", layout="wide")

PAGES = {
    "neuron": st.Page("pages/neuron.py", title="Neuron", icon="🔬", url_path="neuron", default=True),
    "layer": st.Page("pages/layer.py", title="Layer", icon="🗂️", url_path="layer"),
    "verify": st.Page("pages/verify.py", title="Verify (SIEVE)", icon="🧪", url_path="verify"),
    "triage": st.Page("pages/triage.py", title="Triage", icon="🚩", url_path="triage"),
    "planner": st.Page("pages/planner.py", title="Planner", icon="📐", url_path="planner"),
    "coverage": st.Page("pages/coverage.py", title="Coverage", icon="🎯", url_path="coverage"),
}

page = st.navigation(list(PAGES.values()))
asked_page = st.query_params.get("page")
ui.sidebar(page)
if asked_page and asked_page in PAGES and PAGES[asked_page].url_path != page.url_path:
    st.switch_page(PAGES[asked_page])
elif asked_page and asked_page not in PAGES:
    st.error(f"There is no page {asked_page!r}; pages: {', '.join(PAGES)}.")
page.run()
