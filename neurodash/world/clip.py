"""The tiny CLIP: an open_clip model defined by assets/tiny_clip.json and trained on world images
and captions made of vocabulary concepts. It is created and loaded by open_clip's own
create_model_and_transforms (config registered with open_clip.add_model_config), so code that uses
it is real open_clip code. open_clip's BPE tokenizer ships inside the package: nothing downloads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .store import CLIP_CONFIG, CLIP_RECORD, CLIP_WEIGHTS  # noqa: F401 (CLIP_RECORD: public path)

CLIP_NAME = "tiny_clip"  # the config's file stem is its open_clip model name
# Bare concept names dominate; the prompt templates common in CLIP-Dissect style code (and in
# neurodash.concepts) appear too, so prompts like "a photo of a red circle." mean the same thing.
CAPTION_TEMPLATES = ("{}", "{}", "{}", "a photo of a {}.", "a picture of a {}.", "an image showing a {}.",
                     "a {}.", "an image with {}.")


def _register() -> None:
    import open_clip

    if CLIP_NAME not in open_clip.list_models():
        open_clip.add_model_config(CLIP_CONFIG)


def create_untrained_clip():
    """A freshly initialised tiny CLIP and its tokenizer (for training)."""
    import open_clip

    _register()
    model = open_clip.create_model(CLIP_NAME, pretrained=None, device="cpu")
    return model, open_clip.get_tokenizer(CLIP_NAME)


def load_clip(weights: str | Path | None = None):
    """(model, preprocess, tokenizer): the shipped tiny CLIP on CPU in eval mode. preprocess is
    open_clip's PIL transform; clip_encode_images does the same on uint8 arrays, batched."""
    import open_clip

    path = Path(weights) if weights is not None else CLIP_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"tiny CLIP weights not found at {path}; remake them with `python -m neurodash.world.train clip`")
    _register()
    model, _, preprocess = open_clip.create_model_and_transforms(CLIP_NAME, pretrained=str(path), device="cpu")
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(CLIP_NAME)


def images_to_clip_input(model, images: np.ndarray) -> torch.Tensor:
    """uint8 (n,H,W,3) -> normalised float (n,3,S,S) at the tower's input size, as preprocess does
    (bicubic resize, the config's mean/std) but on a whole batch at once."""
    cfg = model.visual.preprocess_cfg
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    if x.shape[-1] != size or x.shape[-2] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False,
                                            antialias=True).clamp_(0, 1)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def clip_encode_images(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """L2-normalised image embeddings float32 (n, D)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (n, H, W, 3), got shape {images.shape}")
    out = [model.encode_image(images_to_clip_input(model, images[i:i + batch]), normalize=True).numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, model.text_projection.shape[1]), np.float32)


@torch.no_grad()
def clip_encode_texts(model, tokenizer, texts) -> np.ndarray:
    """L2-normalised text embeddings float32 (T, D)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    return model.encode_text(tokenizer(texts), normalize=True).numpy().astype(np.float32)


def caption_batch(labels: np.ndarray, rng: np.random.Generator, names: list[str] | None = None,
                  prefer: np.ndarray | None = None):
    """One caption per image, naming 1-3 of its present concepts, and truth (B, B): caption j is
    true of image i iff every concept it names is present in image i. names: the label columns'
    names (default: the world vocabulary); prefer: per-column weights for picking (default equal)."""
    from .vocabulary import vocabulary

    names = vocabulary() if names is None else names
    n, c = labels.shape
    weight = np.ones(c) if prefer is None else np.asarray(prefer, dtype=np.float64)
    texts, chosen = [], np.zeros_like(labels)
    counts = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=n)
    for i in range(n):
        present = np.flatnonzero(labels[i])
        k = min(counts[i], len(present))
        p = weight[present] / weight[present].sum() if k else None
        pick = rng.choice(present, size=k, replace=False, p=p)
        chosen[i, pick] = True
        texts.append(CAPTION_TEMPLATES[templates[i]].format(", ".join(names[j] for j in pick)))
    # truth[i, j] = chosen[j] subset of labels[i]
    missing = chosen.astype(np.int32) @ (~labels).T.astype(np.int32)  # (j, i) concepts of j absent in i
    return texts, (missing.T == 0)


KIND_PREFERENCE = 4.0  # captions name a present object kind this many times as often as an attribute


def training_texts(kinds: np.ndarray, attributes: np.ndarray, rng: np.random.Generator):
    """A step's texts and truth (B, T): one caption per image (caption_batch over kinds and
    attributes, kinds preferred) followed by every concept of both sets in a random template, so
    each image gets a true/false signal per concept. kinds, attributes: the images' labels over the
    "objects" and "attributes" sets."""
    from .vocabulary import vocabulary

    names = vocabulary("objects") + vocabulary("attributes")
    labels = np.concatenate([kinds, attributes], axis=1)
    prefer = np.r_[np.full(kinds.shape[1], KIND_PREFERENCE), np.ones(attributes.shape[1])]
    texts, truth = caption_batch(labels, rng, names, prefer)
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=len(names))
    texts += [CAPTION_TEMPLATES[t].format(name) for t, name in zip(templates, names)]
    return texts, np.concatenate([truth, labels], axis=1)
