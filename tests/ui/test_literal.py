"""widgets.literal(): user text rendered through CommonMark + GFM stays literal text (no link, image, HTML)."""

import html

import pytest
from markdown_it import MarkdownIt

from neurodash.ui.widgets import literal as esc

HOSTILE = [
    "[CLICK TO FIX](http://evil.example/steal)",
    "![x](http://evil.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "**bold** _it_ `code` # head",
    ":red[alarm] :material/warning: $x^2$",
    "[ref]: http://evil.example\n[ref]",
    "<http://evil.example>",
    "a\\\\b \\[not\\]",
    "- item\n1. item\n> quote",
    "=HYPERLINK(\"http://x\")",
    "&lt;b&gt; &amp;",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_literally(text):
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    out = md.render(esc(text))
    assert "<a " not in out and "<img" not in out and "<script" not in out and "<strong" not in out
    assert "<em>" not in out and "<code>" not in out and "<h1>" not in out and "<li>" not in out
    plain = out.replace("<p>", "").replace("</p>", "").replace("<br />", "").replace("\n", "")
    assert html.unescape(plain) == text.replace("\n", "").replace("\r", "")


def test_plotly_labels_of_concepts_are_text():
    import pandas as pd

    from neurodash.ui import charts
    evil = '<a href="http://evil.example">fix</a>'
    df = pd.DataFrame({"neuron": [0], "best_concept": [evil], "x": [0.5], "y": [0.4]})
    fig = charts.layer_scatter(df, "x", "y", None, "t")
    assert list(fig.data[0].text) == ['&lt;a href="http://evil.example"&gt;fix&lt;/a&gt;']
    assert "<a" not in fig.to_json()


def test_chart_labels_of_concepts_are_text_not_markup():
    """A concept name is drawn as SVG text, escaped: never an element of the drawing, never in a title."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    from neurodash.ui import svgcharts
    evil = '<a href="http://evil.example">fix</a><script>alert(1)</script>'
    rows = pd.DataFrame({"metric": ["iou", "iou"], "concept": [evil, "plain"], "score": [0.5, 0.1], "lo": [0.4, 0.0],
                         "hi": [0.6, 0.2], "band_kind": ["Table 1 bound"] * 2})
    svg = svgcharts.concept_scores(rows)
    root = ET.fromstring(svg)  # still well-formed
    assert not [el for el in root.iter() if el.tag.split("}")[-1] in ("a", "script")]
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert [el.get("data-concept") for el in root.iter() if el.get("class") == "bar"] == [evil, "plain"]
    assert "evil" not in (root.findtext("{http://www.w3.org/2000/svg}title") or "")  # titles name the metric
