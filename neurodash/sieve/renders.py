"""Renders of a concept fed back to the workspace's model, and the Activation Rates they give.

Renders and their pooled activations are cached per (generator identity, concept, m, seed) in the
workspace's cache (`sieve/...`): one render of a concept serves every neuron of the layer, and a
demo replays at once. `ar_by_concept` is the one place an AR over the layer is computed.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from neurodash.protocol import ProbeView
from neurodash.cache import CacheError, stable_hash
from neurodash.generate import Generator, get_generator
from neurodash.progress import Progress, check, report, span

# Bump when the meaning of cached SIEVE files changes.
SIEVE_FORMAT = 1
# Renders per concept by default: at m = 50 an AR's 95% Wilson interval is at most ±0.13 wide each
# side, narrow enough to tell a verified AR (≥ 0.5) from a random concept's (near 0).
DEFAULT_M = 50


def as_generator(generator) -> Generator:
    """A Generator from a name ("world", "diffusers" needs options: pass the object) or itself."""
    return get_generator(generator) if isinstance(generator, str) else generator


def generator_key(generator: Generator) -> dict:
    return {"sieve": SIEVE_FORMAT, **generator.identity()}


DISPLAY_SIDE = 256  # renders are kept for display at most this large (a 512px SD render is 0.8 MB)


def _display_copy(images: np.ndarray) -> np.ndarray:
    from PIL import Image

    images = np.asarray(images, dtype=np.uint8)
    h, w = images.shape[1:3]
    if max(h, w) <= DISPLAY_SIDE:
        return images
    scale = DISPLAY_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR)) for im in images])


def render_activations(ws: ProbeView, concept: str, *, generator: Generator, m: int = DEFAULT_M, seed: int = 0,
                       progress: Optional[Progress] = None, cancel: Any = None,
                       keep_images: bool = True) -> np.ndarray:
    """Pooled activations float32 (m, N) of the workspace's layer on m renders of `concept`.

    Cached per (generator identity, concept, m, seed) in the workspace directory: activations under
    sieve/acts/, renders under sieve/renders/ (for display: at most DISPLAY_SIDE pixels a side; a
    full-size cached render is re-read rather than redrawn when its activations are missing).
    """
    key = stable_hash({**generator_key(generator), "concept": concept, "m": int(m), "seed": int(seed)})
    store = ws.cache
    acts_name, render_name = f"sieve/acts/{key}.npy", f"sieve/renders/{key}.npy"
    if store is not None and store.has(acts_name):
        try:
            acts = store.read_array(acts_name)
            if acts.shape[0] == m:
                report(progress, 1.0, f"{concept!r}: cached")
                return acts
            store.recomputed(acts_name, CacheError(f"{m} renders asked, {acts.shape[0]} cached"))
        except CacheError as err:  # a damaged cache file is recomputed, never trusted
            store.recomputed(acts_name, err)
    images = None
    if store is not None and store.has(render_name):
        try:
            info = store.read_json(f"sieve/renders/{key}.json")
            if info.get("full_size", False):  # a display-size copy would change the activations
                images = store.read_array(render_name)
        except (CacheError, AttributeError) as err:
            store.recomputed(render_name, err)
            images = None
    if images is None:
        images = generator.render(concept, int(m), int(seed), progress=span(progress, 0.0, 0.9), cancel=cancel)
        if store is not None and keep_images:
            shown = _display_copy(images)
            store.write_array(render_name, shown)
            store.write_json(f"sieve/renders/{key}.json", {**generator_key(generator), "concept": concept,
                                                            "m": int(m), "seed": int(seed),
                                                            "full_size": shown.shape == images.shape})
    check(cancel)
    report(progress, 0.9, f"{concept!r}: the model reads {m} renders")
    acts, _maps = ws.forward(images)
    acts = np.asarray(acts, dtype=np.float32)
    if store is not None:
        store.write_array(acts_name, acts)
    report(progress, 1.0, f"{concept!r}: done")
    return acts


def rendered_images(ws: ProbeView, concept: str, *, generator: Generator, m: int = DEFAULT_M, seed: int = 0) -> Optional[np.ndarray]:
    """The cached renders of a concept (for display, at most DISPLAY_SIDE a side), or None."""
    key = stable_hash({**generator_key(generator), "concept": concept, "m": int(m), "seed": int(seed)})
    store = ws.cache
    name = f"sieve/renders/{key}.npy"
    if store is None or not store.has(name):
        return None
    return store.read_array(name)


def activation_thresholds(ws: ProbeView, top_fraction: float = 0.01) -> np.ndarray:
    """Each neuron's activation a render must exceed: its top-`top_fraction` value on the probe.

    0.01 is the paper's top-1% (the workspace's own `top1_threshold()`); a larger fraction suits
    a probe whose concepts are common (every shapes-world concept is in >= 3% of images), where
    "beats 99% of the probe" asks more than showing the concept can give.
    """
    if not 0.0 < float(top_fraction) < 1.0:
        raise ValueError(f"top_fraction must lie in (0, 1), got {top_fraction}")
    if float(top_fraction) == 0.01:
        return np.asarray(ws.top1_threshold(), dtype=np.float64)
    from neurodash.extract import top_fraction_threshold

    return np.asarray(top_fraction_threshold(ws.acts, float(top_fraction)), dtype=np.float64)


def activation_hits(acts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """bool (m, N): render i pushes neuron j strictly above its top-1% probe threshold."""
    return np.asarray(acts) > np.asarray(thresholds)[None, :]


def ar_by_concept(ws: ProbeView, concepts: Sequence[str], *, generator: Any, m: int, seed: int,
                  top_fraction: float = 0.01, progress: Optional[Progress] = None,
                  cancel: Any = None) -> dict[str, np.ndarray]:
    """concept -> AR of every neuron (N,) on m renders of it (one render per distinct concept)."""
    generator = as_generator(generator)
    thresholds = activation_thresholds(ws, top_fraction)
    uniq = list(dict.fromkeys(concepts))
    out = {}
    for i, c in enumerate(uniq):
        check(cancel)
        acts = render_activations(ws, c, generator=generator, m=m, seed=seed,
                                  progress=span(progress, i / len(uniq), (i + 1) / len(uniq)), cancel=cancel)
        out[c] = activation_hits(acts, thresholds).mean(axis=0)
    return out
