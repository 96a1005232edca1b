"""Scene sampling: 1-3 objects on a background, as arrays over a batch of images.

Scenes are drawn from counter-based uniforms (rng.uniform), so scene i depends only on the stream key
and its index. Positions are in image-relative units ([0, 1] both axes, y down); radii likewise.
Slot 0 is drawn on top; a concept render forces its concept onto slot 0 (see Constraint).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rng
from .vocabulary import BG_COLOUR_NAMES, BG_PATTERNS, COLOUR_NAMES, POSITIONS, SHAPES, SIZES, TEXTURES

MAX_OBJECTS = 3
SIZE_RADII = ((0.08, 0.11), (0.13, 0.16), (0.19, 0.23))  # circumradius range per size class
POSITION_EDGE = 0.35  # "left" means centre x < 0.35, "right" x > 0.65; top/bottom likewise in y
_PLACEMENT_TRIES = 8
_SLOT_FIELDS = 6 + 2 * _PLACEMENT_TRIES
_N_FIELDS = 3 + MAX_OBJECTS * _SLOT_FIELDS
# Object colours that clash with a background colour of the same name (index pairs).
_CLASH = {BG_COLOUR_NAMES.index(c): COLOUR_NAMES.index(c) for c in BG_COLOUR_NAMES if c in COLOUR_NAMES}


@dataclass
class Scenes:
    """A batch of scenes. Object arrays are (n, MAX_OBJECTS); inactive slots hold ignored values."""

    ids: np.ndarray
    key: np.uint64
    bg_colour: np.ndarray
    bg_pattern: np.ndarray
    active: np.ndarray
    shape: np.ndarray
    colour: np.ndarray
    texture: np.ndarray
    size: np.ndarray
    radius: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    angle: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def position_flags(self) -> np.ndarray:
        """bool (n, MAX_OBJECTS, 4): the object is left / right / top / bottom (POSITIONS order)."""
        flags = np.stack([self.cx < POSITION_EDGE, self.cx > 1 - POSITION_EDGE,
                          self.cy < POSITION_EDGE, self.cy > 1 - POSITION_EDGE], axis=-1)
        assert flags.shape[-1] == len(POSITIONS)
        return flags


@dataclass(frozen=True)
class Constraint:
    """Attribute values forced onto slot 0 (object) or onto the background; None = free."""

    shape: int | None = None
    colour: int | None = None
    texture: int | None = None
    size: int | None = None
    position: int | None = None
    bg_colour: int | None = None
    bg_pattern: int | None = None

    @classmethod
    def from_conditions(cls, conditions: dict) -> "Constraint":
        return cls(**conditions)


def _pick(u: np.ndarray, k: int) -> np.ndarray:
    return np.minimum((u * k).astype(np.int64), k - 1)


def sample_scenes(key: np.uint64, ids: np.ndarray, constraint: Constraint | None = None) -> Scenes:
    """Scenes for the given image ids of stream `key`, optionally forcing a constraint."""
    ids = np.asarray(ids, dtype=np.int64)
    c = constraint or Constraint()
    n = len(ids)
    u = rng.uniform(key, ids, _N_FIELDS)
    n_obj = 1 + _pick(u[:, 0], MAX_OBJECTS)
    bg_colour = _pick(u[:, 1], len(BG_COLOUR_NAMES)) if c.bg_colour is None else np.full(n, c.bg_colour)
    bg_pattern = _pick(u[:, 2], len(BG_PATTERNS)) if c.bg_pattern is None else np.full(n, c.bg_pattern)
    slot_u = u[:, 3:].reshape(n, MAX_OBJECTS, _SLOT_FIELDS)

    active = np.arange(MAX_OBJECTS)[None, :] < n_obj[:, None]
    shape = _pick(slot_u[..., 0], len(SHAPES))
    texture = _pick(slot_u[..., 2], len(TEXTURES))
    size = _pick(slot_u[..., 3], len(SIZES))
    angle = slot_u[..., 5] * 2 * np.pi
    if c.shape is not None:
        shape[:, 0] = c.shape
    if c.texture is not None:
        texture[:, 0] = c.texture
    if c.size is not None:
        size[:, 0] = c.size
    if c.colour is not None and c.bg_colour is None:
        # A forced object colour moves a clashing background to black (never an object colour).
        clash = np.array([_CLASH.get(int(b), -1) == c.colour for b in range(len(BG_COLOUR_NAMES))])
        bg_colour = np.where(clash[bg_colour], BG_COLOUR_NAMES.index("black"), bg_colour)
    colour = _object_colours(slot_u[..., 1], bg_colour)
    if c.colour is not None:
        colour[:, 0] = c.colour
    lo = np.array(SIZE_RADII)[size, 0]
    hi = np.array(SIZE_RADII)[size, 1]
    radius = lo + slot_u[..., 4] * (hi - lo)
    cx, cy = _place(slot_u[..., 6:].reshape(n, MAX_OBJECTS, _PLACEMENT_TRIES, 2), radius, active, c.position)
    return Scenes(ids=ids, key=key, bg_colour=bg_colour, bg_pattern=bg_pattern, active=active,
                  shape=shape, colour=colour, texture=texture, size=size, radius=radius,
                  cx=cx, cy=cy, angle=angle)


def _object_colours(u: np.ndarray, bg_colour: np.ndarray) -> np.ndarray:
    """Uniform over the object colours that do not clash with the image's background."""
    clash = np.array([_CLASH.get(b, -1) for b in range(len(BG_COLOUR_NAMES))])[bg_colour][:, None]
    n_allowed = np.where(clash >= 0, len(COLOUR_NAMES) - 1, len(COLOUR_NAMES))
    idx = np.minimum((u * n_allowed).astype(np.int64), n_allowed - 1)
    return np.where((clash >= 0) & (idx >= clash), idx + 1, idx)


def _place(u: np.ndarray, radius: np.ndarray, active: np.ndarray, position: int | None):
    """Greedy placement: per slot, the first of a few tries that overlaps no earlier object's
    circumcircle, else the try with the most room. u: (n, slots, tries, 2)."""
    n = radius.shape[0]
    cx = np.zeros((n, MAX_OBJECTS))
    cy = np.zeros((n, MAX_OBJECTS))
    rows = np.arange(n)
    for k in range(MAX_OBJECTS):
        r = radius[:, k][:, None]
        lo_x, hi_x = r, 1 - r
        lo_y, hi_y = r, 1 - r
        if k == 0 and position is not None:
            name = POSITIONS[position]
            margin = 0.01
            if name == "left":
                hi_x = np.full_like(r, POSITION_EDGE - margin)
            elif name == "right":
                lo_x = np.full_like(r, 1 - POSITION_EDGE + margin)
            elif name == "top":
                hi_y = np.full_like(r, POSITION_EDGE - margin)
            elif name == "bottom":
                lo_y = np.full_like(r, 1 - POSITION_EDGE + margin)
        tx = lo_x + u[:, k, :, 0] * (hi_x - lo_x)
        ty = lo_y + u[:, k, :, 1] * (hi_y - lo_y)
        room = np.full(tx.shape, np.inf)
        for j in range(k):
            d = np.hypot(tx - cx[:, j:j + 1], ty - cy[:, j:j + 1])
            ratio = d / (r + radius[:, j:j + 1])
            room = np.minimum(room, np.where(active[:, j:j + 1], ratio, np.inf))
        fits = room >= 1.0
        choice = np.where(fits.any(axis=1), fits.argmax(axis=1), room.argmax(axis=1))
        cx[:, k] = tx[rows, choice]
        cy[:, k] = ty[rows, choice]
    return cx, cy
