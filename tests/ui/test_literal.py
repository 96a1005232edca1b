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
