"""neurodash: `streamlit run app.py`.

Every page is listed here. The page files live in views/, not pages/: with a pages/ directory next
to the entry point, Streamlit (1.67) runs a deep link such as /neuron as a v1 page, straight from
pages/neuron.py without this script, so the sidebar and the workspace would be missing. The sidebar
(workspace, neuron, metric, link) is drawn before the page so every page shares one context.
A link may name its page by path (/layer?...) or, at the root, by ?page=layer.
"""

import streamlit as st

st.set_page_config(page_title="neurodash", page_icon=":material/neurology:", layout="wide")
# Content at once: the first import of the model libraries takes seconds on a cold process.
_boot = st.empty()
_boot.info("Starting neurodash: loading the model libraries (a few seconds, once per server)…")

from neurodash import ui  # noqa: E402 - after the placeholder on purpose

_boot.empty()

PAGES = {
    "neuron": st.Page("views/neuron.py", title="Neuron", icon=":material/neurology:", url_path="neuron"),
    "layer": st.Page("views/layer.py", title="Layer", icon=":material/table_view:", url_path="layer"),
    "verify": st.Page("views/verify.py", title="Verify (SIEVE)", icon=":material/science:", url_path="verify"),
    "triage": st.Page("views/triage.py", title="Triage", icon=":material/flag:", url_path="triage"),
    "planner": st.Page("views/planner.py", title="Planner", icon=":material/straighten:", url_path="planner"),
    "coverage": st.Page("views/coverage.py", title="Coverage", icon=":material/target:", url_path="coverage"),
}


def _home() -> None:
    """Placeholder of the root URL; app.py switches to the Neuron page before it would run."""


# The default page of st.navigation has no URL path of its own, so the Neuron page is a normal page
# (/neuron?... links work) and the root URL forwards to it, or to the page named by ?page=.
HOME = st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden")
page = st.navigation([HOME, *PAGES.values()])
if page.url_path == HOME.url_path or "page" in st.query_params:
    query = {k: v for k, v in st.query_params.to_dict().items() if k != "page"}
    asked = st.query_params.get("page", "neuron")
    if asked not in PAGES:
        st.session_state["nd__page_error"] = f"There is no page {asked!r}; pages: {', '.join(PAGES)}."
        asked = "neuron"
    st.switch_page(PAGES[asked], query_params=query)
# What the sidebar says in the main area (a bad link, a recovered cache, the precompute's progress)
# goes into one block, so the page always starts at the same place: an element's place is its
# identity to Streamlit, and the Neuron page's fragment reruns where it was first drawn.
with st.container():
    if "nd__page_error" in st.session_state:
        st.error(ui.literal(st.session_state.pop("nd__page_error")))  # it quotes the URL's page value
    ui.sidebar(page)
page.run()
