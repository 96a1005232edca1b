"""The shapes world: an offline probe world with ground truth (labels and pixel masks), its concept
vocabulary, an exact concept renderer, and the shipped shapes CNN and tiny CLIP.

Importing this package does not import torch; the model loaders do, when called.
"""
from .sampling import render_concept, sample, scene_batch
from .vocabulary import concept_groups, concept_index, vocabulary

CNN_DEFAULT_LAYER = "block4"
IMAGE_SIZE = 64  # the default image size of the world and the input size of the shipped models


def load_cnn():
    """The shipped shapes CNN (CPU, eval mode); input float (B,3,H,W) in [0,1]."""
    from .cnn import load_cnn as _load

    return _load()


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
    "CNN_DEFAULT_LAYER", "IMAGE_SIZE", "vocabulary", "concept_groups", "concept_index", "sample", "scene_batch",
    "render_concept", "load_cnn", "load_clip", "clip_encode_images", "clip_encode_texts",
]
