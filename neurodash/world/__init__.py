"""The shapes world: an offline probe world with ground truth (labels and pixel masks), its concept
sets (the default vocabulary: 192 rare object kinds; coarse attributes apart), an exact concept
renderer (prototypical by default, a hard single instance on request), and the shipped shapes CNN
and tiny CLIP.

Importing this package does not import torch; the model loaders do, when called.
"""
from .sampling import render_concept, sample, scene_batch
from .vocabulary import CONCEPT_SETS, DEFAULT_SET, concept_groups, concept_index, set_of, vocabulary

CNN_DEFAULT_LAYER = "block4"  # one unit per object kind (see cnn.py)
IMAGE_SIZE = 64  # the default image size of the world and the input size of the shipped models
# Changes whenever the same (n, seed) would draw other images: a workspace's fingerprint holds it,
# so a cache built on an older world is recomputed, never trusted. "2.1": the balanced probe.
WORLD_VERSION = "2.1"


def load_cnn():
    """The shipped shapes CNN (CPU, eval mode); input float (B,3,H,W) in [0,1]."""
    from .cnn import load_cnn as _load

    return _load()


def concept_frequency(n: int = 5000, seed: int = 0, concept_set: str = DEFAULT_SET) -> dict[str, float]:
    """Concept name -> share of n probe images in which it is present."""
    from .frequency import concept_frequency as _freq

    return _freq(n, seed, concept_set)


def load_clip():
    """The shipped tiny CLIP: (model, preprocess, tokenizer), made by open_clip."""
    from .clip import load_clip as _load

    return _load()


def clip_encode_images(model, images):
    """L2-normalised image embeddings float32 (n, D) for uint8 images (n, H, W, 3)."""
    from .clip import clip_encode_images as _enc

    return _enc(model, images)


def clip_encode_texts(model, tokenizer, texts):
    """L2-normalised text embeddings float32 (T, D)."""
    from .clip import clip_encode_texts as _enc

    return _enc(model, tokenizer, texts)


__all__ = [
    "CNN_DEFAULT_LAYER", "IMAGE_SIZE", "WORLD_VERSION", "CONCEPT_SETS", "DEFAULT_SET", "vocabulary", "concept_groups",
    "concept_index", "set_of", "concept_frequency", "sample", "scene_batch",
    "render_concept", "load_cnn", "load_clip", "clip_encode_images", "clip_encode_texts",
]
