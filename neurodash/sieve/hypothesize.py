"""SIEVE Hypothesize: crop the high-activation region of each top image, embed the crops with the
workspace's CLIP image encoder, cluster them (agglomerative, k by silhouette) and name each cluster
by its top-2 concepts (CLIP image-text similarity)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from neurodash.protocol import Clip, ProbeView
from neurodash.sieve.select import TOP


@dataclass
class Hypothesis:
    """One cluster of a neuron's top-image crops and the two concepts CLIP names it with."""

    cluster: int
    image_ids: np.ndarray
    crops: np.ndarray  # uint8 (k, H, W, 3)
    concepts: list[str]
    scores: list[float]  # mean CLIP cosine of the cluster's crops with each concept
    silhouette: float = float("nan")  # of the chosen clustering (nan for a single cluster)

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "image_ids": [int(i) for i in self.image_ids],
                "concepts": list(self.concepts), "scores": [float(s) for s in self.scores],
                "silhouette": None if math.isnan(self.silhouette) else float(self.silhouette)}


def _upsample(act_map: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from scipy.ndimage import zoom

    h, w = act_map.shape
    if (h, w) == tuple(shape):
        return act_map.astype(np.float64)
    up = zoom(act_map.astype(np.float64), (shape[0] / h, shape[1] / w), order=1, mode="nearest", grid_mode=True)
    return up[: shape[0], : shape[1]]


def crop_box(act_map: np.ndarray, shape: tuple[int, int], *, level: float = 0.5,
             min_frac: float = 0.25, pad_frac: float = 0.1) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the high-activation region of one image.

    The map is upsampled to the image; the region is the connected set of pixels at or above
    `level` of the map's maximum that holds the peak; its bounding box is padded, made square (CLIP
    preprocessing centre-crops, which would cut a long box) and at least `min_frac` of the side.
    A map with no positive value gives the whole image.
    """
    from scipy.ndimage import label

    H, W = shape
    up = _upsample(np.asarray(act_map), shape)
    peak = up.max()
    if not np.isfinite(peak) or peak <= 0:
        return 0, 0, H, W
    regions, _ = label(up >= level * peak)
    py, px = np.unravel_index(np.argmax(up), up.shape)
    ys, xs = np.nonzero(regions == regions[py, px])
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(bottom - top, right - left)
    side = int(min(max(side + 2 * round(pad_frac * max(H, W)), math.ceil(min_frac * max(H, W))), H, W))
    cy, cx = (top + bottom) / 2.0, (left + right) / 2.0
    t = int(min(max(round(cy - side / 2.0), 0), H - side))
    l = int(min(max(round(cx - side / 2.0), 0), W - side))
    return t, l, t + side, l + side


def crop_images(images: np.ndarray, maps: np.ndarray, **box_options) -> np.ndarray:
    """The high-activation crop of each image, resized back to the image size (uint8 (k,H,W,3))."""
    from PIL import Image

    images = np.asarray(images)
    k, H, W, _ = images.shape
    out = np.empty_like(images)
    for i in range(k):
        t, l, b, r = crop_box(maps[i], (H, W), **box_options)
        crop = Image.fromarray(np.ascontiguousarray(images[i, t:b, l:r]))
        out[i] = np.asarray(crop.resize((W, H), Image.BILINEAR))
    return out


# Words that say where a region sits in its image or how big it is: they describe the crop's box,
# not what the unit detects, and a render of "bottom" fixes only the layout, so Verify could not
# test such a hypothesis. They are never candidate names (the better the CLIP, the more it reads
# the box: the stage-2 tiny CLIP called a bottom region "bottom").
LAYOUT_WORDS = frozenset({"small", "medium", "large", "left", "right", "top", "bottom", "center", "centre", "middle"})

CONTEXT_DIM = 0.75  # outside the box, pixels move this far towards mid-gray
VIEWS = ("context", "crop")


def context_images(images: np.ndarray, maps: np.ndarray, *, dim: float = CONTEXT_DIM, **box_options) -> np.ndarray:
    """Each image at its own scale with everything outside its high-activation box dimmed towards
    gray (uint8 (k,H,W,3)): CLIP reads the region in its scene, so an upsampled crop's size (a
    small object blown up looks "large") and texture scale never enter the naming."""
    images = np.asarray(images)
    k, H, W, _ = images.shape
    out = images.astype(np.float32) * (1 - dim) + 128.0 * dim
    for i in range(k):
        t, l, b, r = crop_box(maps[i], (H, W), **box_options)
        out[i, t:b, l:r] = images[i, t:b, l:r]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray
    k: int
    silhouette: float  # of the chosen split; nan when a single cluster was kept
    scores: dict  # k -> silhouette of every admissible split tried


def cluster_embeddings(emb: np.ndarray, *, max_k: int = 5, min_silhouette: float = 0.25,
                       min_size: int = 2) -> Clustering:
    """Agglomerative clustering (average linkage, cosine) with k chosen by silhouette.

    The silhouette is undefined for one cluster, so "no split is better" needs a bar: a split is
    kept only when its silhouette reaches `min_silhouette` (0.25: below it Kaufman & Rousseeuw call
    the structure "no substantial structure") and every cluster has at least `min_size` members
    (a lone crop is an outlier, not a role of the neuron). Otherwise all crops form one cluster.
    Among admissible splits the highest silhouette wins, ties to the smaller k.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    emb = np.asarray(emb, dtype=np.float64)
    n = emb.shape[0]
    single = Clustering(np.zeros(n, dtype=int), 1, float("nan"), {})
    if n < 2 * min_size or n < 3:
        return single
    scores: dict[int, float] = {}
    best: Optional[tuple[float, int, np.ndarray]] = None
    for k in range(2, min(max_k, n // min_size, n - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(emb)
        if np.bincount(labels, minlength=k).min() < min_size:
            continue
        s = float(silhouette_score(emb, labels, metric="cosine"))
        scores[k] = s
        if best is None or s > best[0] + 1e-12:
            best = (s, k, labels)
    if best is None or best[0] < min_silhouette:
        return Clustering(single.labels, 1, float("nan"), scores)
    # number clusters by size (largest first), then by first member, so output order is stable
    s, k, labels = best
    order = sorted(range(k), key=lambda c: (-(labels == c).sum(), np.flatnonzero(labels == c)[0]))
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    return Clustering(relabel[labels], k, s, scores)


def hypothesize(ws: ProbeView, neuron: int, *, top: int = TOP, clip: Optional[Clip] = None, n_concepts: int = 2, max_k: int = 5,
                min_silhouette: float = 0.25, min_size: int = 2, level: float = 0.5,
                concept_names: Optional[Sequence[str]] = None, view: str = "context") -> list[Hypothesis]:
    """SIEVE Hypothesize for one neuron: clusters of its top-image crops, each named by CLIP.

    view "context" (default): CLIP reads each high-activation region in its image (outside dimmed,
    see context_images); "crop": the paper's crop, upsampled to the image size. Concepts that are
    size or position words (LAYOUT_WORDS) are not candidate names."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    ids, _acts, maps = ws.top_images(int(neuron), int(top))
    ids = np.asarray(ids)
    if ids.size == 0:
        return []
    images = np.asarray(ws.images(ids))
    crops = (context_images if view == "context" else crop_images)(images, np.asarray(maps), level=level)
    clip = ws.clip() if clip is None else clip
    emb = np.asarray(clip.encode_images(crops), dtype=np.float64)
    names = [n for n in (ws.concept_names if concept_names is None else concept_names)
             if n.strip().lower() not in LAYOUT_WORDS]
    if not names:
        raise ValueError("no concept to name the clusters with (size and position words are not names)")
    text = np.asarray(clip.encode_texts(names), dtype=np.float64)
    clustering = cluster_embeddings(emb, max_k=max_k, min_silhouette=min_silhouette, min_size=min_size)
    out = []
    for c in range(clustering.k):
        members = np.flatnonzero(clustering.labels == c)
        sims = (emb[members] @ text.T).mean(axis=0)  # mean cosine of the crops with each concept
        best = np.argsort(-sims, kind="stable")[:n_concepts]
        out.append(Hypothesis(c, ids[members], crops[members], [names[j] for j in best],
                              [float(sims[j]) for j in best], clustering.silhouette))
    return out
