"""How good the shipped models are on fresh world images: the figures reported in assets/README.md
and checked by tests/world. Fresh means a seed the training streams never use (see train.py)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from .sampling import sample
from .vocabulary import concept_groups, vocabulary

EVAL_SEED = 777_777  # training draws from seeds < 100_000 (train.py), so these images are fresh


@torch.no_grad()
def cnn_predictions(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Concept probabilities float (n, C) from the CNN."""
    from .cnn import images_to_tensor

    out = [torch.sigmoid(model(images_to_tensor(images[i:i + batch]))).numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out)


def cnn_attribute_accuracy(model, n: int = 2000, seed: int = EVAL_SEED) -> dict[str, dict[str, float]]:
    """Per attribute group: `accuracy` (per image and concept, threshold 0.5), `balanced_accuracy`
    (mean over the group's concepts), `exact` (share of images whose whole set for the group is right)."""
    images, labels, _ = sample(n, seed, masks=False)
    pred = cnn_predictions(model, images) >= 0.5
    names = vocabulary()
    out = {}
    for group, members in concept_groups().items():
        cols = [names.index(m) for m in members]
        p, y = pred[:, cols], labels[:, cols]
        tpr = (p & y).sum(0) / np.maximum(y.sum(0), 1)
        tnr = (~p & ~y).sum(0) / np.maximum((~y).sum(0), 1)
        out[group] = {"accuracy": float((p == y).mean()),
                      "balanced_accuracy": float(((tpr + tnr) / 2).mean()),
                      "exact": float((p == y).all(axis=1).mean())}
    out["all"] = {"accuracy": float((pred == labels).mean()),
                  "balanced_accuracy": float(np.mean([v["balanced_accuracy"] for v in out.values()])),
                  "exact": float((pred == labels).all(axis=1).mean())}
    return out


def clip_concept_auroc(model, tokenizer, n: int = 2000, seed: int = EVAL_SEED) -> dict[str, float]:
    """Per concept AUROC of image-text cosine similarity (text = the bare concept name) against the
    ground-truth label, on n fresh images (NaN where a concept is absent from all or none)."""
    from .clip import clip_encode_images, clip_encode_texts

    images, labels, _ = sample(n, seed, masks=False)
    img = clip_encode_images(model, images)
    txt = clip_encode_texts(model, tokenizer, vocabulary())
    scores = img @ txt.T
    out = {}
    for j, name in enumerate(vocabulary()):
        y = labels[:, j]
        out[name] = float(roc_auc_score(y, scores[:, j])) if 0 < y.sum() < len(y) else float("nan")
    return out
