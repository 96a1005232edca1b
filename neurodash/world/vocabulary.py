"""The world's attributes and its two concept sets.

Every concept is a predicate on the scene: object concepts hold for an object whose attributes
match every condition, background concepts for the background. A concept's pixel mask is the
visible pixels of what it holds for, and it is labelled present iff that mask is non-empty.

- "objects" (the default vocabulary): the object kinds, every (texture, colour, shape) of the six
  kind shapes, e.g. "striped red circle". 192 kinds, each in well under 1% of probe images, so a
  unit's top 1% can be one kind (what SIEVE's AR and the bounds need to say anything).
- "attributes": coarse concepts (colour alone, shape alone incl. the distractor shapes, texture,
  size, position, background, colour+shape), each common (several % of images or more). They are
  kept out of the default vocabulary and serve diagnostics and tests.

Distractor objects (shapes outside SHAPES: bar, crescent, semicircle) hold no object-kind concept:
they put concept colours and textures into scenes without the kind, so a unit that detects a kind
must join shape, colour and texture.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring")  # kind shapes
DISTRACTOR_SHAPES = ("bar", "crescent", "semicircle")  # never part of an object-kind concept
ALL_SHAPES = SHAPES + DISTRACTOR_SHAPES  # scene shape indices index this tuple
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

# Attribute-object compounds of the "attributes" set: each shape with two colours.
COLOUR_SHAPES = (
    ("red", "circle"), ("white", "circle"),
    ("blue", "square"), ("pink", "square"),
    ("green", "triangle"), ("red", "triangle"),
    ("yellow", "star"), ("blue", "star"),
    ("purple", "cross"), ("green", "cross"),
    ("orange", "ring"), ("yellow", "ring"),
)

COLOUR_NAMES = tuple(COLOURS)
BG_COLOUR_NAMES = tuple(BG_COLOURS)
CONCEPT_SETS = ("objects", "attributes")
DEFAULT_SET = "objects"


@dataclass(frozen=True)
class Concept:
    """One vocabulary entry.

    target: "object" or "background". conditions: attribute -> value index; object attributes are
    shape (index into ALL_SHAPES), colour, texture, size (indices into COLOUR_NAMES, TEXTURES, SIZES)
    and position (index into POSITIONS); background attributes are bg_colour and bg_pattern.
    """

    name: str
    group: str
    target: str
    conditions: dict = field(default_factory=dict, hash=False, compare=False)


def kind_name(texture: str, colour: str, shape: str) -> str:
    return f"{texture} {colour} {shape}"


def _objects() -> list[Concept]:
    """Object kinds, grouped by shape (group "<shape>s" keeps the groups readable in the UI)."""
    return [Concept(kind_name(t, c, s), f"{s} kinds", "object",
                    {"shape": si, "colour": ci, "texture": ti})
            for si, s in enumerate(SHAPES) for ci, c in enumerate(COLOUR_NAMES)
            for ti, t in enumerate(TEXTURES)]


def _attributes() -> list[Concept]:
    out: list[Concept] = []
    out += [Concept(s, "shape", "object", {"shape": i}) for i, s in enumerate(ALL_SHAPES)]
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
    return out


def _check_set(concept_set: str) -> str:
    if concept_set not in CONCEPT_SETS:
        raise ValueError(f"unknown world concept set {concept_set!r}; choose one of {', '.join(CONCEPT_SETS)}")
    return concept_set


@lru_cache(maxsize=None)
def concepts(concept_set: str = DEFAULT_SET) -> tuple[Concept, ...]:
    """All concepts of a set, in column order."""
    out = _objects() if _check_set(concept_set) == "objects" else _attributes()
    names = [c.name for c in out]
    assert len(set(names)) == len(names), "concept names must be unique"
    return tuple(out)


def vocabulary(concept_set: str = DEFAULT_SET) -> list[str]:
    """Concept names in column order (the columns of sample()'s labels and masks)."""
    return [c.name for c in concepts(concept_set)]


def concept_groups(concept_set: str = DEFAULT_SET) -> dict[str, list[str]]:
    """Group name -> concept names, in column order ("circle kinds", ... for the objects;
    "shape", "colour", ..., "colour+shape" for the attributes)."""
    groups: dict[str, list[str]] = {}
    for c in concepts(concept_set):
        groups.setdefault(c.group, []).append(c.name)
    return groups


def set_of(name: str) -> str:
    """The concept set that holds `name` (the default set first); ValueError if none does."""
    for s in CONCEPT_SETS:
        if name in _index(s):
            return s
    raise ValueError(f"unknown world concept {name!r}; valid concepts are the object kinds "
                     f"({', '.join(vocabulary('objects'))}) and the attributes "
                     f"({', '.join(vocabulary('attributes'))})")


@lru_cache(maxsize=None)
def _index(concept_set: str) -> dict[str, int]:
    return {n: i for i, n in enumerate(vocabulary(concept_set))}


def concept_index(name: str, concept_set: str = DEFAULT_SET) -> int:
    """Column of a concept; ValueError naming the valid choices for an unknown name."""
    try:
        return _index(_check_set(concept_set))[name]
    except KeyError:
        names = vocabulary(concept_set)
        elsewhere = [s for s in CONCEPT_SETS if s != concept_set and name in _index(s)]
        hint = f" (it is in the {elsewhere[0]} set)" if elsewhere else ""
        raise ValueError(
            f"unknown world concept {name!r} in the {concept_set} set{hint}; valid {concept_set} "
            f"concepts are: {', '.join(names)}") from None
