"""A minimal SVG writer for static charts: scales, "nice" ticks and escaped shapes and text.

Why static SVG: a shared link opens the Neuron page in a fresh browser, and a Vega-Lite chart there
costs ~0.45 s of that open (its 22 script chunks, ~0.8 MB, must load and compile before the page
shows; bench/floor_app.py measures it). An SVG string is shown by st.image as an inline data URI: no
request, no script, and the same enlarge button as the tiles.

Every text goes through `escape`: a concept name is drawn as text, never read as markup (and an
image's SVG runs no script anyway). Marks carry `data-*` attributes with their values, so tests (and
a user saving the image) can read what is drawn.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

# quoted: an unquoted family name with a number in it ("Source Sans 3") voids the whole list (serif text)
FONT = "'Source Sans Pro', 'Source Sans 3', 'DejaVu Sans', Arial, sans-serif"
INK = "#31333f"  # Streamlit's text colour
GRID = "#e6e9ef"


class Linear:
    """domain → range, linearly (a degenerate domain maps to the range's middle)."""

    def __init__(self, domain: tuple[float, float], rng: tuple[float, float]):
        self.d0, self.d1 = map(float, domain)
        self.r0, self.r1 = map(float, rng)

    def __call__(self, v: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (float(v) - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


class Log(Linear):
    """A log10 scale over a positive domain."""

    def __init__(self, domain: tuple[float, float], rng: tuple[float, float]):
        super().__init__((math.log10(domain[0]), math.log10(domain[1])), rng)

    def __call__(self, v: float) -> float:
        return super().__call__(math.log10(v))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * next(m for limit, m in ((1.5, 1), (3, 2), (7, 5), (math.inf, 10)) if raw / mag < limit)
    first = math.ceil(lo / step - 1e-9) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 12) for i in range(n)]


def number(v: float) -> str:
    """A compact label for a tick or a value: 3 significant digits, thousands grouped."""
    if v == 0:
        return "0"
    if abs(v) >= 1000 and float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def clip(label: str, limit: int) -> str:
    """A label cut to `limit` characters with an ellipsis (the full name is in the data-* attribute)."""
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def wrap(label: str, chars: int, lines: int = 2) -> list[str]:
    """A label broken at spaces into at most `lines` lines of about `chars` characters (the last clipped)."""
    out: list[str] = []
    for word in str(label).split():
        if out and len(out[-1]) + 1 + len(word) <= chars:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = out[: lines - 1] + [" ".join(out[lines - 1:])]
    return [clip(line, chars) for line in out] or [""]


class Svg:
    """Shapes and text appended in drawing order; `render()` gives the document."""

    def __init__(self, width: float, height: float, title: str):
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []

    @staticmethod
    def _attrs(attrs: dict) -> str:
        out = []
        for k, v in attrs.items():
            if v is None:
                continue
            if isinstance(v, float):
                v = f"{v:.2f}" if math.isfinite(v) else "nan"
            out.append(f"{k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}")  # class_ -> class
        return " ".join(out)

    def add(self, tag: str, text: str | None = None, **attrs) -> None:
        a = self._attrs(attrs)
        self.parts.append(f"<{tag} {a}/>" if text is None else f"<{tag} {a}>{escape(str(text))}</{tag}>")

    def open(self, tag: str = "g", **attrs) -> None:
        self.parts.append(f"<{tag} {self._attrs(attrs)}>")

    def close(self, tag: str = "g") -> None:
        self.parts.append(f"</{tag}>")

    def rect(self, x, y, w, h, fill, **attrs) -> None:
        self.add("rect", x=float(x), y=float(y), width=float(max(w, 0)), height=float(max(h, 0)), fill=fill, **attrs)

    def line(self, x1, y1, x2, y2, stroke=INK, width: float = 1.0, dash: list | None = None, **attrs) -> None:
        self.add("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), stroke=stroke,
                 stroke_width=width, stroke_dasharray=" ".join(map(str, dash)) if dash else None, **attrs)

    def text(self, x, y, label, size: float = 12, anchor: str = "start", rotate: float | None = None,
             fill: str = INK, weight: str | None = None, **attrs) -> None:
        transform = f"rotate({rotate} {float(x):.2f} {float(y):.2f})" if rotate else None
        self.add("text", label, x=float(x), y=float(y), font_size=size, text_anchor=anchor, fill=fill,
                 font_weight=weight, transform=transform, **attrs)

    def render(self) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{self.height:.0f}" '
                f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" font-family={quoteattr(FONT)}>')
        return head + f"<title>{escape(self.title)}</title>" + "".join(self.parts) + "</svg>"


def y_axis(svg: Svg, scale, ticks, x: float, x_end: float, title: str, labels=None) -> None:
    """Tick labels left of `x`, a grid line per tick to `x_end`, the title rotated along the axis."""
    for i, t in enumerate(ticks):
        y = scale(t)
        svg.line(x, y, x_end, y, stroke=GRID)
        svg.text(x - 6, y + 4, labels[i] if labels else number(t), size=11, anchor="end")
    mid = (scale(ticks[0]) + scale(ticks[-1])) / 2 if ticks else svg.height / 2
    svg.text(x - 46, mid, title, size=12, anchor="middle", rotate=-90)


def x_axis(svg: Svg, scale, ticks, y: float, title: str, x_mid: float) -> None:
    """The axis line at `y`, tick marks and labels below it, the title under them."""
    svg.line(scale(ticks[0]) if ticks else 0, y, scale(ticks[-1]) if ticks else 0, y, stroke=INK)
    for t in ticks:
        svg.line(scale(t), y, scale(t), y + 4)
        svg.text(scale(t), y + 17, number(t), size=11, anchor="middle")
    svg.text(x_mid, y + 34, title, size=12, anchor="middle")
