"""Streamlit's own floor for bench_ui: the least a page like the Neuron page costs in this Streamlit.

A sidebar number input (the unit, seeded from ?neuron= and mirrored back to the URL), a header,
12 ready-made 256-px JPEG tiles and 2 small charts drawn the way the Neuron page draws them (static
SVG images); nothing computed per run. Its first content, deep-link open and "+" switch, timed exactly
like the dashboard's, are what the dashboard cannot beat without changing what the page shows. With
?fragment=1 the number input and everything it drives are one st.fragment in the main area: the "+"
then reruns only that fragment, the floor of a fragment-based neuron switch. ?charts=vega draws the
two charts with Vega-Lite instead, ?charts=plotly with Plotly (what the Neuron page drew before: the
Vega-Lite bundle is ~0.45 s of a cold open here, Plotly's about a second).
"""

import io

import numpy as np
import streamlit as st
from PIL import Image

st.set_page_config(page_title="floor", layout="wide")
st.info("Streamlit floor app (bench/bench_ui.py)")


@st.cache_resource
def tiles(j: int) -> list[bytes]:
    rng = np.random.default_rng(j)
    out = []
    for _ in range(12):
        buf = io.BytesIO()
        Image.fromarray((rng.random((256, 256, 3)) * 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


if "neuron" not in st.session_state:
    st.session_state["neuron"] = int(st.query_params.get("neuron", 0))


def unit(where) -> None:
    j = int(where.number_input("Neuron (0…127)", min_value=0, max_value=127, step=1, key="neuron"))
    st.query_params["neuron"] = str(j)
    st.header(f"Neuron {j} · floor")
    cols = st.columns(8)
    for i, tile in enumerate(tiles(j)):
        cols[i % 8].image(tile, caption=f"#{i}", width="stretch", output_format="JPEG")
    rng = np.random.default_rng(j)
    for name in ("hist", "concepts"):
        values = rng.random(20)
        if st.query_params.get("charts") == "plotly":
            import plotly.graph_objects as go

            st.plotly_chart(go.Figure(go.Bar(x=list(range(20)), y=values)), key=name)
        elif st.query_params.get("charts") == "vega":
            st.vega_lite_chart({"data": {"values": [{"x": i, "y": float(v)} for i, v in enumerate(values)]},
                                "mark": "bar", "encoding": {"x": {"field": "x", "type": "ordinal"},
                                                            "y": {"field": "y", "type": "quantitative"}}},
                               key=name)
        else:  # imported here: neurodash.ui loads the model libraries, seconds of a cold server's first run
            from neurodash.ui import svgcharts

            hist = {"edges": list(range(21)), "counts": [int(v * 1000) for v in values]}
            st.image(svgcharts.activation_histogram(hist, title=name), width="stretch")


if st.query_params.get("fragment"):
    st.fragment(unit)(st)
else:
    unit(st.sidebar)
