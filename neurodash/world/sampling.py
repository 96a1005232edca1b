"""The world as a probe: sample(n, seed) images with ground-truth labels and masks, and
render_concept(name, m) - the world's exact text-to-image generator (used by SIEVE Verify)."""
from __future__ import annotations

import numpy as np

from . import rng
from .render import BACKGROUND, render
from .scenes import MAX_OBJECTS, Constraint, Scenes, sample_scenes
from .vocabulary import concept_index, concepts

_OBJECT_ATTRS = ("shape", "colour", "texture", "size")


def concept_truth(scenes: Scenes) -> np.ndarray:
    """bool (n, C, MAX_OBJECTS + 1): concept c holds for slot k (k < MAX_OBJECTS) or the
    background (k == BACKGROUND). Whether it is visible is up to the owner map."""
    n = len(scenes)
    cs = concepts()
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
    # Bit k of codes[i, c] says whether concept c holds for owner k; a pixel's mask bit is then
    # (code >> owner) & 1. Chunked with out= so the work stays in cache (about 30x a plain gather).
    codes = np.packbits(truth, axis=2, bitorder="little")[..., 0]
    small_owner = flat.astype(np.uint8)
    out = np.empty((n, truth.shape[1], size * size), dtype=bool)
    for i0 in range(0, n, 32):
        chunk = slice(i0, i0 + 32)
        np.bitwise_and(np.right_shift(codes[chunk, :, None], small_owner[chunk, None, :]), 1,
                       out=out[chunk].view(np.uint8))
    return labels, out.reshape(n, truth.shape[1], size, size)


def _render_scenes(scenes: Scenes, size: int, masks: bool):
    images, owner = render(scenes, size)
    labels, mask_arr = labels_and_masks(concept_truth(scenes), owner, masks)
    return images, labels, mask_arr


def sample(n: int, seed: int = 0, *, size: int = 64, start: int = 0, masks: bool = True):
    """n world images (uint8 (n,H,W,3)), labels bool (n,C) and masks bool (n,C,H,W) or None.
    Image i depends only on (seed, start + i): a big probe can be produced in chunks."""
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be non-negative, got n={n}, start={start}")
    scenes = sample_scenes(rng.stream_key(seed, "world"), np.arange(start, start + n), None)
    return _render_scenes(scenes, size, masks)


def scene_batch(n: int, seed: int = 0, *, start: int = 0) -> Scenes:
    """The scene descriptions behind sample(n, seed, start=start) (for captions and training)."""
    return sample_scenes(rng.stream_key(seed, "world"), np.arange(start, start + n), None)


def render_concept(name: str, m: int, seed: int = 0, *, size: int = 64, negate: bool = False):
    """m fresh images that show concept `name` (negate=True: controls that do not), with their labels
    and masks. The concept is forced onto the top object or the background, then checked on the labels;
    controls are world images filtered to lack the concept. ValueError for an unknown name."""
    column = concept_index(name)
    if m < 0:
        raise ValueError(f"m must be non-negative, got {m}")
    concept = concepts()[column]
    constraint = None if negate else Constraint.from_conditions(concept.conditions)
    key = rng.stream_key(seed, f"concept:{name}:{'without' if negate else 'with'}")
    kept_images, kept_labels, kept_masks, have = [], [], [], 0
    start, batch = 0, max(16, 2 * m)
    while have < m:
        if start > 200 * max(m, 16):
            raise RuntimeError(f"could not render {m} images {'without' if negate else 'with'} {name!r}")
        scenes = sample_scenes(key, np.arange(start, start + batch), constraint)
        images, labels, mask_arr = _render_scenes(scenes, size, True)
        keep = np.flatnonzero(labels[:, column] != negate)[: m - have]
        kept_images.append(images[keep])
        kept_labels.append(labels[keep])
        kept_masks.append(mask_arr[keep])
        have += keep.size
        start += batch
    return np.concatenate(kept_images), np.concatenate(kept_labels), np.concatenate(kept_masks)
