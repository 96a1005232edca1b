"""neurodash: `streamlit run app.py`.

Every page is listed here. The page files live in views/, not pages/: with a pages/ directory next
to the entry point, Streamlit (1.67) runs a deep link such as /neuron as a v1 page, straight from
pages/neuron.py without this script, so the sidebar and the workspace would be missing. The sidebar
(workspace, neuron, metric, link) is drawn before the page so every page shares one context.
A link may name its page by path (/layer?...) or, at the root, by ?page=layer.
"""

import streamlit as st

from neurodash import ui

st.set_page_config(page_title="neurodash", page_icon=":material/neurology:", layout="wide")

PAGES = {
    "neuron": st.Page("views/neuron.py", title="Neuron", icon=":material/neurology:", url_path="neuron"),
    "layer": st.Page("views/layer.py", title="Layer", icon=":material/table_view:", url_path="layer"),
    "verify": st.Page("views/verify.py", title="Verify (SIEVE)", icon=":material/science:", url_path="verify"),
    "triage": st.Page("views/triage.py", title="Triage", icon=":material/flag:", url_path="triage"),
    "planner": st.Page("views/planner.py", title="Planner", icon=":material/straighten:", url_path="planner"),
    "coverage": st.Page("views/coverage.py", title="Coverage", icon=":material/target:", url_path="coverage"),
}


def _home() -> None:
    """The root URL opens the Neuron page (the default page of st.navigation has no path of its own,
    so the Neuron page is a normal page and /neuron?... links work)."""
    st.switch_page(PAGES["neuron"])


HOME = st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden")
page = st.navigation([HOME, *PAGES.values()])
asked_page = st.query_params.get("page")
ui.sidebar(page)
if asked_page and asked_page in PAGES and PAGES[asked_page].url_path != page.url_path:
    st.switch_page(PAGES[asked_page])
elif asked_page and asked_page not in PAGES:
    st.error(f"There is no page {asked_page!r}; pages: {', '.join(PAGES)}.")
page.run()
