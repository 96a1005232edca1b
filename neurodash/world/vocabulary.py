"""The world's attributes and its concept vocabulary.

Every concept is a predicate on the scene: object concepts hold for an object whose attributes
match every condition, background concepts for the background. A concept's pixel mask is the
visible pixels of what it holds for, and it is labelled present iff that mask is non-empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring")
# Object colours (RGB). Objects never take the colour named by their background.
COLOURS = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 230),
    "purple": (140, 60, 200),
    "pink": (245, 130, 190),
    "white": (240, 240, 240),
}
TEXTURES = ("plain", "striped", "dotted", "checkered")
SIZES = ("small", "medium", "large")
POSITIONS = ("left", "right", "top", "bottom")
BG_COLOURS = {
    "black": (25, 25, 25),
    "gray": (120, 120, 120),
    "white": (235, 235, 235),
    "blue": (30, 50, 130),
}
BG_PATTERNS = ("plain", "grid", "noisy")

# Attribute-object compounds: each shape with two colours and with two non-plain textures.
COLOUR_SHAPES = (
    ("red", "circle"), ("white", "circle"),
    ("blue", "square"), ("pink", "square"),
    ("green", "triangle"), ("red", "triangle"),
    ("yellow", "star"), ("blue", "star"),
    ("purple", "cross"), ("green", "cross"),
    ("orange", "ring"), ("yellow", "ring"),
)
TEXTURE_SHAPES = (
    ("striped", "circle"), ("dotted", "circle"),
    ("striped", "square"), ("checkered", "square"),
    ("dotted", "triangle"), ("checkered", "triangle"),
    ("striped", "star"), ("dotted", "star"),
    ("checkered", "cross"), ("striped", "cross"),
    ("dotted", "ring"), ("checkered", "ring"),
)

COLOUR_NAMES = tuple(COLOURS)
BG_COLOUR_NAMES = tuple(BG_COLOURS)


@dataclass(frozen=True)
class Concept:
    """One vocabulary entry.

    target: "object" or "background". conditions: attribute -> value index; object attributes are
    shape, colour, texture, size (indices into SHAPES, COLOUR_NAMES, TEXTURES, SIZES) and position
    (index into POSITIONS); background attributes are bg_colour and bg_pattern.
    """

    name: str
    group: str
    target: str
    conditions: dict = field(default_factory=dict, hash=False, compare=False)


def _build() -> tuple[Concept, ...]:
    out: list[Concept] = []
    out += [Concept(s, "shape", "object", {"shape": i}) for i, s in enumerate(SHAPES)]
    out += [Concept(c, "colour", "object", {"colour": i}) for i, c in enumerate(COLOUR_NAMES)]
    out += [Concept(t, "texture", "object", {"texture": i}) for i, t in enumerate(TEXTURES)]
    out += [Concept(s, "size", "object", {"size": SIZES.index(s)}) for s in ("small", "large")]
    out += [Concept(p, "position", "object", {"position": i}) for i, p in enumerate(POSITIONS)]
    out += [Concept(f"{c} background", "background colour", "background", {"bg_colour": i})
            for i, c in enumerate(BG_COLOUR_NAMES)]
    out += [Concept(f"{p} background", "background pattern", "background", {"bg_pattern": i})
            for i, p in enumerate(BG_PATTERNS) if p != "plain"]
    out += [Concept(f"{c} {s}", "colour+shape", "object",
                    {"colour": COLOUR_NAMES.index(c), "shape": SHAPES.index(s)}) for c, s in COLOUR_SHAPES]
    out += [Concept(f"{t} {s}", "texture+shape", "object",
                    {"texture": TEXTURES.index(t), "shape": SHAPES.index(s)}) for t, s in TEXTURE_SHAPES]
    names = [c.name for c in out]
    assert len(set(names)) == len(names), "concept names must be unique"
    return tuple(out)


@lru_cache(maxsize=1)
def concepts() -> tuple[Concept, ...]:
    """All concepts, in column order."""
    return _build()


def vocabulary() -> list[str]:
    """Concept names in column order (the columns of sample()'s labels and masks)."""
    return [c.name for c in concepts()]


def concept_groups() -> dict[str, list[str]]:
    """Group name ("shape", "colour", ..., "texture+shape") -> concept names, in column order."""
    groups: dict[str, list[str]] = {}
    for c in concepts():
        groups.setdefault(c.group, []).append(c.name)
    return groups


def concept_index(name: str) -> int:
    """Column of a concept; ValueError naming the valid choices for an unknown name."""
    names = vocabulary()
    try:
        return names.index(name)
    except ValueError:
        raise ValueError(
            f"unknown world concept {name!r}; valid concepts are: {', '.join(names)}"
        ) from None
