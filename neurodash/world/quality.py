"""How good the shipped models are on fresh world images: the figures reported in assets/README.md
and checked by tests/world. Fresh means a seed the training streams never use (see train.py)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from .clip import clip_encode_images, clip_encode_texts
from .cnn import images_to_tensor
from .sampling import sample
from .vocabulary import concept_groups, vocabulary

EVAL_SEED = 777_777  # training draws from seeds < 100_000 (train.py), so these images are fresh
SELECT_BETA = 10.0  # SIEVE's default threshold on P99 / median


@torch.no_grad()
def cnn_predictions(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Concept probabilities float (n, C) from the CNN."""
    out = [torch.sigmoid(model(images_to_tensor(images[i:i + batch]))).numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out)


def _rates(pred: np.ndarray, labels: np.ndarray):
    tpr = (pred & labels).sum(0) / np.maximum(labels.sum(0), 1)
    tnr = (~pred & ~labels).sum(0) / np.maximum((~labels).sum(0), 1)
    return tpr, tnr


def cnn_attribute_accuracy(model, n: int = 2000, seed: int = EVAL_SEED) -> dict[str, dict[str, float]]:
    """Per concept group (the kinds of one shape) and "all": `accuracy` (per image and concept,
    threshold 0.5), `balanced_accuracy` (mean over the group's concepts of (recall + specificity)/2),
    `recall` (mean over its concepts), `exact` (share of images whose whole set for the group is right)."""
    images, labels, _ = sample(n, seed, masks=False)
    pred = cnn_predictions(model, images) >= 0.5
    names = vocabulary()
    out = {}
    for group, members in list(concept_groups().items()) + [("all", names)]:
        cols = [names.index(m) for m in members]
        p, y = pred[:, cols], labels[:, cols]
        tpr, tnr = _rates(p, y)
        seen = y.any(axis=0)  # a concept absent from the sample has no recall to average
        out[group] = {"accuracy": float((p == y).mean()),
                      "balanced_accuracy": float(((tpr + tnr) / 2)[seen].mean()),
                      "recall": float(tpr[seen].mean()),
                      "exact": float((p == y).all(axis=1).mean())}
    return out


def cnn_class_accuracy(model, n: int = 5000, seed: int = EVAL_SEED) -> dict[str, dict[str, float]]:
    """Per concept: positives in the sample, recall, specificity, balanced accuracy (threshold 0.5)
    and AUROC of its probability (NaN where the sample has no positive)."""
    images, labels, _ = sample(n, seed, masks=False)
    prob = cnn_predictions(model, images)
    tpr, tnr = _rates(prob >= 0.5, labels)
    out = {}
    for j, name in enumerate(vocabulary()):
        y = labels[:, j]
        ok = 0 < y.sum() < len(y)
        out[name] = {"positives": int(y.sum()), "recall": float(tpr[j]) if ok else float("nan"),
                     "specificity": float(tnr[j]),
                     "balanced_accuracy": float((tpr[j] + tnr[j]) / 2) if ok else float("nan"),
                     "auroc": float(roc_auc_score(y, prob[:, j])) if ok else float("nan")}
    return out


@torch.no_grad()
def unit_activations(model, layer: str, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Spatially pooled activations float (n, units) of one layer as the dashboard's "auto" pooling
    reads them: the head layer as the head pools it (mean or peak), other layers by the mean."""
    module = model.get_submodule(layer)
    by_max = getattr(model, "auto_pooling", {}).get(layer) == "max"
    seen = []
    handle = module.register_forward_hook(
        lambda m, i, o: seen.append((o.amax(dim=(2, 3)) if by_max else o.mean(dim=(2, 3))).numpy()))
    try:
        for i in range(0, len(images), batch):
            model(images_to_tensor(images[i:i + batch]))
    finally:
        handle.remove()
    return np.concatenate(seen)


def unit_selectivity(model, layer: str, n: int = 2000, seed: int = EVAL_SEED) -> dict:
    """SIEVE's selectivity P99 / median of each unit's pooled probe activation (inf where the median
    is 0 and P99 > 0, 0 for a silent unit, as neurodash.sieve.selectivity_ratio defines it), and
    its distribution over the layer's units."""
    images, _, _ = sample(n, seed, masks=False)
    acts = unit_activations(model, layer, images).astype(np.float64)
    median, p99 = np.percentile(acts, [50, 99], axis=0)
    ratio = np.where(median > 0, p99 / np.where(median > 0, median, 1), np.where(p99 > 0, np.inf, 0.0))
    quantiles = np.percentile(np.where(np.isinf(ratio), 1e12, ratio), [10, 25, 50, 75, 90])
    return {"layer": layer, "n": n, "units": int(len(ratio)),
            "share_above_beta": float((ratio > SELECT_BETA).mean()), "beta": SELECT_BETA,
            "share_infinite": float(np.isinf(ratio).mean()), "share_silent": float((p99 <= 0).mean()),
            "ratio_quantiles": {f"p{q}": (float(v) if v < 1e12 else float("inf"))
                                for q, v in zip((10, 25, 50, 75, 90), quantiles)}}


def clip_concept_auroc(model, tokenizer, n: int = 2000, seed: int = EVAL_SEED,
                       concept_set: str = "objects") -> dict[str, float]:
    """Per concept AUROC of image-text cosine similarity (text = the bare concept name) against the
    ground-truth label, on n fresh images (NaN where a concept is absent from all or none)."""
    images, labels, _ = sample(n, seed, masks=False, concept_set=concept_set)
    names = vocabulary(concept_set)
    scores = clip_encode_images(model, images) @ clip_encode_texts(model, tokenizer, names).T
    out = {}
    for j, name in enumerate(names):
        y = labels[:, j]
        out[name] = float(roc_auc_score(y, scores[:, j])) if 0 < y.sum() < len(y) else float("nan")
    return out
