"""The world as a probe: sample(n, seed) images with ground-truth labels and masks, and
render_concept(name, m) - the world's exact text-to-image generator (used by SIEVE Verify)."""
from __future__ import annotations

import numpy as np

from . import rng
from .render import BACKGROUND, render
from .scenes import MAX_OBJECTS, MIXES, Constraint, Mix, Scenes, sample_scenes
from .vocabulary import DEFAULT_SET, SIZES, concept_index, concepts, set_of


def concept_truth(scenes: Scenes, concept_set: str = DEFAULT_SET) -> np.ndarray:
    """bool (n, C, MAX_OBJECTS + 1): concept c holds for slot k (k < MAX_OBJECTS) or the
    background (k == BACKGROUND). Whether it is visible is up to the owner map."""
    n = len(scenes)
    cs = concepts(concept_set)
    truth = np.zeros((n, len(cs), MAX_OBJECTS + 1), dtype=bool)
    positions = scenes.position_flags()
    for j, c in enumerate(cs):
        if c.target == "background":
            ok = np.ones(n, dtype=bool)
            for attr, value in c.conditions.items():
                ok &= getattr(scenes, attr) == value
            truth[:, j, BACKGROUND] = ok
        else:
            ok = scenes.active.copy()
            for attr, value in c.conditions.items():
                ok &= positions[..., value] if attr == "position" else getattr(scenes, attr) == value
            truth[:, j, :MAX_OBJECTS] = ok
    return truth


def labels_and_masks(truth: np.ndarray, owner: np.ndarray, masks: bool = True):
    """Labels bool (n, C) and masks bool (n, C, H, W) or None. A concept is present iff some pixel
    shows a thing it holds for, i.e. iff its mask is non-empty (by construction)."""
    n, size = owner.shape[0], owner.shape[1]
    flat = owner.reshape(n, -1).astype(np.intp)
    visible = np.zeros((n, MAX_OBJECTS + 1), dtype=bool)
    visible[np.arange(n)[:, None], flat] = True
    labels = (truth & visible[:, None, :]).any(axis=2)
    if not masks:
        return labels, None
    # Only present concepts have a non-empty mask, and an image shows a few of them: each present
    # (image, concept)'s mask is its truth row read at the image's owner map; the rest stay zero
    # (about 3x faster than computing every concept's mask of every image: zeroing is the rest).
    out = np.zeros((n, truth.shape[1], size * size), dtype=bool)
    img, con = np.nonzero(labels)
    for s in range(0, len(img), 512):  # bounded temporaries
        i, c = img[s:s + 512], con[s:s + 512]
        out[i, c] = np.take_along_axis(truth[i, c], flat[i], axis=1)
    return labels, out.reshape(n, truth.shape[1], size, size)


def _render_scenes(scenes: Scenes, size: int, masks: bool, concept_set: str = DEFAULT_SET, images: bool = True):
    images, owner = render(scenes, size, paint=images)
    labels, mask_arr = labels_and_masks(concept_truth(scenes, concept_set), owner, masks)
    return images, labels, mask_arr


def _mix(mix: str) -> Mix:
    if mix not in MIXES:
        raise ValueError(f"unknown scene mix {mix!r}; choose one of {', '.join(MIXES)}")
    return MIXES[mix]


def sample(n: int, seed: int = 0, *, size: int = 64, start: int = 0, masks: bool = True,
           concept_set: str = DEFAULT_SET, mix: str = "probe", images: bool = True):
    """n world images (uint8 (n,H,W,3); None with images=False, for the masks of images already
    seen), labels bool (n,C) and masks bool (n,C,H,W) or None, over the concepts of `concept_set`. Image i depends only on (seed, start + i, mix): a big probe can be
    produced in chunks, and both concept sets label the same images. mix="train" shows more object
    kinds per image (for training, never a probe)."""
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be non-negative, got n={n}, start={start}")
    scenes = scene_batch(n, seed, start=start, mix=mix)
    return _render_scenes(scenes, size, masks, concept_set, images)


def scene_batch(n: int, seed: int = 0, *, start: int = 0, mix: str = "probe") -> Scenes:
    """The scene descriptions behind sample(n, seed, start=start) (for captions and training)."""
    return sample_scenes(rng.stream_key(seed, "world"), np.arange(start, start + n), None, _mix(mix))


PROTOTYPE_COUNT = (2, 3)  # instances of the concept in a default (prototypical) render
# Their size class. The shipped CNN's units read each map's peak; renders of a unit's own kind reach
# its probe top-1% threshold 0.92 of the time with 2-3 medium instances, 0.89 with sizes drawn as in
# the probe and 0.85 with large ones (large objects overflow the 31-px receptive field).
PROTOTYPE_SIZE = "medium"


def render_concept(name: str, m: int, seed: int = 0, *, size: int = 64, negate: bool = False,
                   hard: bool = False, concept_set: str | None = None, instances: bool = False,
                   masks: bool = True):
    """m fresh images that show concept `name` (negate=True: controls that do not), with their labels
    and masks over the concept's set (`concept_set`, default: the set that holds the name).

    Default (prototypical) renders look like a detector's top images: 2-3 medium instances of the
    concept, with background and distractors as in the probe. hard=True: a single instance of
    random size among the probe's other objects (the first edition's render). Controls are probe
    images filtered to lack the concept. instances=True adds a 4th array: how many objects (or
    the background) showing the concept each image has. masks=False: None in place of the masks
    (a generator needs only the images). ValueError for an unknown name."""
    concept_set = set_of(name) if concept_set is None else concept_set
    column = concept_index(name, concept_set)
    if m < 0:
        raise ValueError(f"m must be non-negative, got {m}")
    concept = concepts(concept_set)[column]
    if negate:
        constraint, style = None, "without"
    elif hard or concept.target == "background":
        constraint, style = Constraint.from_conditions(concept.conditions), "hard"
    else:
        conditions = {"size": SIZES.index(PROTOTYPE_SIZE), **concept.conditions}
        constraint, style = Constraint.from_conditions(conditions, count=PROTOTYPE_COUNT), "with"
    key = rng.stream_key(seed, f"concept:{name}:{style}")
    kept: list[list[np.ndarray]] = [[], [], [], []]
    have, start, batch = 0, 0, max(16, 2 * m)
    while have < m:
        if start > 200 * max(m, 16):
            raise RuntimeError(f"could not render {m} images {'without' if negate else 'with'} {name!r}")
        scenes = sample_scenes(key, np.arange(start, start + batch), constraint)
        images, owner = render(scenes, size)
        truth = concept_truth(scenes, concept_set)
        labels, mask_arr = labels_and_masks(truth, owner, masks)
        keep = np.flatnonzero(labels[:, column] != negate)[: m - have]
        for out, arr in zip(kept, (images, labels, mask_arr, _visible_holders(truth[:, column], owner))):
            out.append(None if arr is None else arr[keep])
        have += keep.size
        start += batch
    out = tuple(None if k[0] is None else np.concatenate(k) for k in kept)
    return out if instances else out[:3]


def _visible_holders(truth: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """int (n,): how many owners (objects, background) that the concept holds for show a pixel.
    truth: bool (n, MAX_OBJECTS + 1) for one concept."""
    n = owner.shape[0]
    visible = np.zeros((n, MAX_OBJECTS + 1), dtype=bool)
    visible[np.arange(n)[:, None], owner.reshape(n, -1).astype(np.intp)] = True
    return (truth & visible).sum(axis=1)


def sample_with_attributes(n: int, seed: int = 0, *, size: int = 64, start: int = 0, mix: str = "probe"):
    """Images of sample(n, seed, ...) with labels over both concept sets (no masks): (images,
    object-kind labels, attribute labels). For CLIP training, which captions with both."""
    scenes = scene_batch(n, seed, start=start, mix=mix)
    images, owner = render(scenes, size)
    kinds, _ = labels_and_masks(concept_truth(scenes, "objects"), owner, masks=False)
    attributes, _ = labels_and_masks(concept_truth(scenes, "attributes"), owner, masks=False)
    return images, kinds, attributes
