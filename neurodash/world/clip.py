"""The tiny CLIP: an open_clip model defined by assets/tiny_clip.json and trained on world images
and captions made of vocabulary concepts. It is created and loaded by open_clip's own
create_model_and_transforms (config registered with open_clip.add_model_config), so code that uses
it is real open_clip code. open_clip's BPE tokenizer ships inside the package: nothing downloads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurodash.assets import ASSETS

CLIP_NAME = "tiny_clip"  # the config's file stem is its open_clip model name
CLIP_CONFIG = ASSETS / "tiny_clip.json"
CLIP_WEIGHTS = ASSETS / "tiny_clip.safetensors"
CLIP_RECORD = ASSETS / "tiny_clip.record.json"
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


def caption_batch(labels: np.ndarray, rng: np.random.Generator):
    """One caption per image, naming 1-3 of its present concepts, and truth (B, B): caption j is
    true of image i iff every concept it names is present in image i."""
    from .vocabulary import vocabulary

    names = vocabulary()
    n, _ = labels.shape
    texts, chosen = [], np.zeros_like(labels)
    counts = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=n)
    for i in range(n):
        present = np.flatnonzero(labels[i])
        pick = rng.choice(present, size=min(counts[i], len(present)), replace=False)
        chosen[i, pick] = True
        texts.append(CAPTION_TEMPLATES[templates[i]].format(", ".join(names[j] for j in pick)))
    # truth[i, j] = chosen[j] subset of labels[i]
    missing = chosen.astype(np.int32) @ (~labels).T.astype(np.int32)  # (j, i) concepts of j absent in i
    return texts, (missing.T == 0)


def training_texts(labels: np.ndarray, rng: np.random.Generator):
    """A step's texts and truth (B, T): one caption per image (caption_batch) followed by every
    vocabulary concept in a random template, so each image gets a true/false signal per concept."""
    from .vocabulary import vocabulary

    texts, truth = caption_batch(labels, rng)
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=labels.shape[1])
    texts += [CAPTION_TEMPLATES[t].format(name) for t, name in zip(templates, vocabulary())]
    return texts, np.concatenate([truth, labels], axis=1)


def clip_quality_and_save(model, out: Path, eval_n: int) -> dict:
    """Save the trained weights (safetensors) under out/, reload them through open_clip as load_clip
    does, and measure the concept AUROC of the reloaded model."""
    from .quality import clip_concept_auroc
    from .train import _save

    out.mkdir(parents=True, exist_ok=True)
    path = out / "tiny_clip.safetensors"
    _save(model.state_dict(), path, dtype=torch.float16)  # half the bytes; loads into fp32 params
    if not eval_n:
        return {"quality": None}
    reloaded, _, tokenizer = load_clip(path)
    auroc = clip_concept_auroc(reloaded, tokenizer, n=eval_n)
    values = np.array(list(auroc.values()))
    return {"quality": {"mean_auroc": float(np.nanmean(values)), "min_auroc": float(np.nanmin(values)),
                        "per_concept": auroc}}
