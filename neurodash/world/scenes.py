"""Scene sampling: a few kind objects plus distractors on a background, as arrays over a batch.

Scenes are drawn from counter-based uniforms (rng.uniform), so scene i depends only on the stream key
and its index. Positions are in image-relative units ([0, 1] both axes, y down); radii likewise.

Slots 0..KIND_SLOTS-1 hold kind objects (shape in SHAPES), the rest distractors (shape in
DISTRACTOR_SHAPES). Lower slots are drawn on top. How many of each a scene has follows a Mix: the
probe's mix keeps every object kind rare (see vocabulary); the training mix shows more kinds per
image so that each kind has more positives per step. A concept render forces its concept onto the
first `count` kind slots (see Constraint).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rng
from .vocabulary import BG_COLOUR_NAMES, BG_PATTERNS, COLOUR_NAMES, DISTRACTOR_SHAPES, POSITIONS, SHAPES, SIZES, TEXTURES

KIND_SLOTS = 3
DISTRACTOR_SLOTS = 2
MAX_OBJECTS = KIND_SLOTS + DISTRACTOR_SLOTS
SIZE_RADII = ((0.10, 0.13), (0.14, 0.17), (0.18, 0.22))  # circumradius range per size class
POSITION_EDGE = 0.35  # "left" means centre x < 0.35, "right" x > 0.65; top/bottom likewise in y
_PLACEMENT_TRIES = 8
_SLOT_FIELDS = 6 + 2 * _PLACEMENT_TRIES
_SCENE_FIELDS = 5
_N_FIELDS = _SCENE_FIELDS + MAX_OBJECTS * _SLOT_FIELDS
# Object colours that clash with a background colour of the same name (index pairs).
_CLASH = {BG_COLOUR_NAMES.index(c): COLOUR_NAMES.index(c) for c in BG_COLOUR_NAMES if c in COLOUR_NAMES}
# The same as an array over background colours: the object colour each one clashes with, or -1.
_CLASH_OF_BG = np.array([_CLASH.get(b, -1) for b in range(len(BG_COLOUR_NAMES))])


@dataclass(frozen=True)
class Mix:
    """Probabilities of 0, 1, 2, ... kind objects and of 0, 1, ... distractors per scene.

    siblings: the chance that each kind slot after the first shows a sibling of the first kind
    object (the same kind with one of shape, colour, texture changed): hard negatives, so a
    trained detector learns the attribute that tells siblings apart.

    balanced_block: when > 0, kind slots 0 and 1 are read from a balanced sequence instead of
    drawn: blocks of this many places, each a fresh permutation of the kinds plus empty places.
    Over any run of images each kind fills the same number of slots to within one, so none is in
    more than ⌈2n / block⌉ of n images. Image i still depends only on (key, i): its places are 2i
    and 2i + 1, and a block's permutation depends only on (key, block index)."""

    kinds: tuple[float, ...]
    distractors: tuple[float, ...]
    siblings: float = 0.0
    balanced_block: int = 0


# The probe: two kind slots per image from the balanced sequence (block 208: 192 kinds + 16 empty
# places), so every kind is in about 0.96% of images, at most ⌈2n/208⌉ of n (0.96-0.98% of 5000;
# mean 1.85 kind objects per image, near training's 1.8), plus 0-2 distractors.
PROBE_BLOCK = 208
PROBE_MIX = Mix(kinds=(0.0, 0.0, 1.0, 0.0), distractors=(0.25, 0.45, 0.30), balanced_block=PROBE_BLOCK)
TRAIN_MIX = Mix(kinds=(0.1, 0.3, 0.3, 0.3), distractors=(0.25, 0.45, 0.30), siblings=0.5)
MIXES = {"probe": PROBE_MIX, "train": TRAIN_MIX}


@dataclass
class Scenes:
    """A batch of scenes. Object arrays are (n, MAX_OBJECTS); inactive slots hold ignored values."""

    ids: np.ndarray
    key: np.uint64
    bg_colour: np.ndarray
    bg_pattern: np.ndarray
    active: np.ndarray
    shape: np.ndarray  # index into vocabulary.ALL_SHAPES
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
    """Attribute values forced onto the first kind slots (object) or onto the background; None = free.

    count: how many kind slots take the forced object attributes: an int, or (lo, hi) drawn per
    image; those slots are active and the other kind slots empty. count=None keeps the mix's
    kind objects and forces only slot 0 (at least one kind object)."""

    shape: int | None = None
    colour: int | None = None
    texture: int | None = None
    size: int | None = None
    position: int | None = None
    bg_colour: int | None = None
    bg_pattern: int | None = None
    count: int | tuple[int, int] | None = None

    @classmethod
    def from_conditions(cls, conditions: dict, **extra) -> "Constraint":
        return cls(**conditions, **extra)

    @property
    def forces_object(self) -> bool:
        return any(v is not None for v in (self.shape, self.colour, self.texture, self.size, self.position))


def _pick(u: np.ndarray, k: int) -> np.ndarray:
    return np.minimum((u * k).astype(np.int64), k - 1)


def _draw_count(u: np.ndarray, probs: tuple[float, ...]) -> np.ndarray:
    edges = np.cumsum(probs)[:-1] / np.sum(probs)
    return np.searchsorted(edges, u, side="right")


def sample_scenes(key: np.uint64, ids: np.ndarray, constraint: Constraint | None = None,
                  mix: Mix = PROBE_MIX) -> Scenes:
    """Scenes for the given image ids of stream `key`, optionally forcing a constraint."""
    ids = np.asarray(ids, dtype=np.int64)
    c = constraint or Constraint()
    n = len(ids)
    u = rng.uniform(key, ids, _N_FIELDS)
    n_kinds = _draw_count(u[:, 0], mix.kinds)
    n_distractors = _draw_count(u[:, 3], mix.distractors)
    forced = np.zeros(n, dtype=np.int64)
    if c.forces_object:
        if c.count is None:
            n_kinds = np.maximum(n_kinds, 1)
            forced[:] = 1
        else:
            lo, hi = (c.count, c.count) if isinstance(c.count, int) else c.count
            if not 1 <= lo <= hi <= KIND_SLOTS:
                raise ValueError(f"count must lie in 1..{KIND_SLOTS}, got {c.count}")
            forced = lo + _pick(u[:, 4], hi - lo + 1)
            n_kinds = forced
    bg_colour = _pick(u[:, 1], len(BG_COLOUR_NAMES)) if c.bg_colour is None else np.full(n, c.bg_colour)
    bg_pattern = _pick(u[:, 2], len(BG_PATTERNS)) if c.bg_pattern is None else np.full(n, c.bg_pattern)
    slot_u = u[:, _SCENE_FIELDS:].reshape(n, MAX_OBJECTS, _SLOT_FIELDS)

    slots = np.arange(MAX_OBJECTS)[None, :]
    active = np.where(slots < KIND_SLOTS, slots < n_kinds[:, None], slots - KIND_SLOTS < n_distractors[:, None])
    kind_shape = _pick(slot_u[..., 0], len(SHAPES))
    distractor_shape = len(SHAPES) + _pick(slot_u[..., 0], len(DISTRACTOR_SHAPES))
    shape = np.where(slots < KIND_SLOTS, kind_shape, distractor_shape)
    texture = _pick(slot_u[..., 2], len(TEXTURES))
    size = _pick(slot_u[..., 3], len(SIZES))
    angle = slot_u[..., 5] * 2 * np.pi
    is_forced = slots < forced[:, None]
    if c.shape is not None:
        shape = np.where(is_forced, c.shape, shape)
    if c.texture is not None:
        texture = np.where(is_forced, c.texture, texture)
    if c.size is not None:
        size = np.where(is_forced, c.size, size)
    if c.colour is not None and c.bg_colour is None:
        # A forced object colour moves a clashing background to black (never an object colour).
        clash = _CLASH_OF_BG == c.colour
        bg_colour = np.where(clash[bg_colour], BG_COLOUR_NAMES.index("black"), bg_colour)
    colour = _object_colours(slot_u[..., 1], bg_colour)
    if mix.balanced_block:
        active, shape, colour, texture, bg_colour = _balanced_kinds(
            key, ids, mix.balanced_block, u[:, 1], active, shape, colour, texture, bg_colour, forced,
            c.bg_colour is None and not c.forces_object)
        colour = np.where(slots >= KIND_SLOTS, _object_colours(slot_u[..., 1], bg_colour), colour)
    if mix.siblings > 0:
        shape, colour, texture = _siblings(rng.uniform(key, ids, 3 * KIND_SLOTS, field_offset=_N_FIELDS),
                                           mix.siblings, shape, colour, texture, bg_colour, forced)
    if c.colour is not None:
        colour = np.where(is_forced, c.colour, colour)
    lo = np.array(SIZE_RADII)[size, 0]
    hi = np.array(SIZE_RADII)[size, 1]
    radius = lo + slot_u[..., 4] * (hi - lo)
    cx, cy = _place(slot_u[..., 6:].reshape(n, MAX_OBJECTS, _PLACEMENT_TRIES, 2), radius, active,
                    is_forced, c.position)
    return Scenes(ids=ids, key=key, bg_colour=bg_colour, bg_pattern=bg_pattern, active=active,
                  shape=shape, colour=colour, texture=texture, size=size, radius=radius,
                  cx=cx, cy=cy, angle=angle)


_BALANCED_SLOTS = 2
_BALANCED_SALT = np.uint64(0xB7E151628AED2A6B)


def _balanced_kinds(key, ids, block: int, u_bg, active, shape, colour, texture, bg_colour, forced, free_bg: bool):
    """Kind slots 0..1 from the balanced sequence (see PROBE_MIX); forced slots keep their draw.
    The background colour is redrawn uniformly among those that clash with no scheduled kind."""
    from .vocabulary import concepts

    kinds = concepts("objects")
    n_kinds = len(kinds)
    if block < n_kinds:
        raise ValueError(f"a balanced block must hold every kind ({n_kinds}), got {block}")
    kind_shape = np.array([k.conditions["shape"] for k in kinds])
    kind_colour = np.array([k.conditions["colour"] for k in kinds])
    kind_texture = np.array([k.conditions["texture"] for k in kinds])
    places = _BALANCED_SLOTS * ids[:, None] + np.arange(_BALANCED_SLOTS)[None, :]
    blocks = places // block
    unique, inverse = np.unique(blocks, return_inverse=True)
    perms = np.argsort(rng.uniform(key ^ _BALANCED_SALT, unique, block), axis=1)
    value = perms[inverse.reshape(blocks.shape), places % block]
    active, shape, colour, texture = active.copy(), shape.copy(), colour.copy(), texture.copy()
    for k in range(_BALANCED_SLOTS):
        own = k >= forced
        kind = np.minimum(value[:, k], n_kinds - 1)
        active[:, k] = np.where(own, value[:, k] < n_kinds, active[:, k])
        shape[:, k] = np.where(own, kind_shape[kind], shape[:, k])
        colour[:, k] = np.where(own, kind_colour[kind], colour[:, k])
        texture[:, k] = np.where(own, kind_texture[kind], texture[:, k])
    if free_bg:
        kind_slots = active[:, :_BALANCED_SLOTS]
        clashes = ((_CLASH_OF_BG[None, :, None] == colour[:, None, :_BALANCED_SLOTS])
                   & kind_slots[:, None, :]).any(axis=2)
        allowed = ~clashes  # (n, n_bg); black clashes with no object colour, so never empty
        pick = np.minimum((u_bg * allowed.sum(1)).astype(np.int64), allowed.sum(1) - 1)
        bg_colour = np.argmax(np.cumsum(allowed, axis=1) > pick[:, None], axis=1)
    else:  # the background is given: a scheduled kind of its colour would vanish into it, so drop it
        clash = _CLASH_OF_BG[bg_colour]
        for k in range(_BALANCED_SLOTS):
            active[:, k] &= ~((k >= forced) & (colour[:, k] == clash))
    return active, shape, colour, texture, bg_colour


def _siblings(u: np.ndarray, chance: float, shape, colour, texture, bg_colour, forced):
    """Kind slots 1.. become, with probability `chance` each, slot 0's kind with one attribute
    changed to another value (never a colour that clashes with the background, never a forced slot).
    u: (n, 3 * KIND_SLOTS) uniforms of their own fields, so the other draws stay as they were."""
    shape, colour, texture = shape.copy(), colour.copy(), texture.copy()
    clash = _CLASH_OF_BG[bg_colour]
    for k in range(1, KIND_SLOTS):
        pick, which, value = u[:, 3 * k], u[:, 3 * k + 1], u[:, 3 * k + 2]
        attr = _pick(which, 3)
        new = {0: (shape, len(SHAPES)), 1: (colour, len(COLOUR_NAMES)), 2: (texture, len(TEXTURES))}
        changed = {}
        for a, (arr, size) in new.items():
            # another value than slot 0's: shift by 1..size-1
            changed[a] = (arr[:, 0] + 1 + _pick(value, size - 1)) % size
        sib_shape = np.where(attr == 0, changed[0], shape[:, 0])
        sib_colour = np.where(attr == 1, changed[1], colour[:, 0])
        sib_texture = np.where(attr == 2, changed[2], texture[:, 0])
        use = (pick < chance) & (k >= forced) & (sib_colour != clash)
        shape[:, k] = np.where(use, sib_shape, shape[:, k])
        colour[:, k] = np.where(use, sib_colour, colour[:, k])
        texture[:, k] = np.where(use, sib_texture, texture[:, k])
    return shape, colour, texture


def _object_colours(u: np.ndarray, bg_colour: np.ndarray) -> np.ndarray:
    """Uniform over the object colours that do not clash with the image's background."""
    clash = _CLASH_OF_BG[bg_colour][:, None]
    n_allowed = np.where(clash >= 0, len(COLOUR_NAMES) - 1, len(COLOUR_NAMES))
    idx = np.minimum((u * n_allowed).astype(np.int64), n_allowed - 1)
    return np.where((clash >= 0) & (idx >= clash), idx + 1, idx)


def _place(u: np.ndarray, radius: np.ndarray, active: np.ndarray, forced: np.ndarray, position: int | None):
    """Greedy placement: per slot, the first of a few tries that overlaps no earlier object's
    circumcircle, else the try with the most room. u: (n, slots, tries, 2). A forced position
    applies to the forced slots."""
    n = radius.shape[0]
    cx = np.zeros((n, MAX_OBJECTS))
    cy = np.zeros((n, MAX_OBJECTS))
    rows = np.arange(n)
    margin = 0.01
    for k in range(MAX_OBJECTS):
        r = radius[:, k][:, None]
        lo_x, hi_x = r, 1 - r
        lo_y, hi_y = r, 1 - r
        if position is not None:
            name = POSITIONS[position]
            f = forced[:, k][:, None]
            if name == "left":
                hi_x = np.where(f, POSITION_EDGE - margin, hi_x)
            elif name == "right":
                lo_x = np.where(f, 1 - POSITION_EDGE + margin, lo_x)
            elif name == "top":
                hi_y = np.where(f, POSITION_EDGE - margin, hi_y)
            elif name == "bottom":
                lo_y = np.where(f, 1 - POSITION_EDGE + margin, lo_y)
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
