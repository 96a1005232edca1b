"""SIEVE: Select, Hypothesize, Verify (arXiv 2603.24953), on any workspace.

- select:      selectivity = P99 / median of each neuron's probe activations; selective when > β.
- hypothesize: crop the high-activation region of each top image, embed the crops with the
               workspace's CLIP image encoder, cluster them (agglomerative, k by silhouette), and
               name each cluster by its top-2 concepts (CLIP image-text similarity).
- verify:      a generator renders m images of the concept; the workspace's model reads them; the
               Activation Rate (AR) is the share whose pooled activation exceeds the neuron's top-1%
               probe threshold. AR comes with a binomial interval and the AR of a control concept.
- layer_table: mean AR per explanation source (NetDissect-style best IoU, CLIP-Dissect-style best
               soft-WPMI, BE's top concept, SIEVE's verified hypotheses): the paper's main table.

Renders and their pooled activations are cached per concept in the workspace directory
(`sieve/...`): a render of a concept serves every neuron of the layer, and a demo replays at once.

The workspace is used through a small protocol (acts, concepts, concept_names, images, top_images,
forward, top1_threshold and a cache directory), so tests can hand in a small stand-in.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from neurodash.cache import CacheDir, stable_hash
from neurodash.generate import Cancelled, Generator, get_generator
from neurodash.stats.proportion import binomial_interval, compare_rates

Progress = Callable[[float, str], None]

# Bump when the meaning of cached SIEVE files changes.
SIEVE_FORMAT = 1


def _report(progress: Optional[Progress], fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def _span(progress: Optional[Progress], lo: float, hi: float) -> Optional[Progress]:
    """A progress callback that maps [0, 1] onto [lo, hi] of the parent's."""
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * float(f), msg)


def _check_cancel(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


# =========================================================================== Select


@dataclass
class SelectResult:
    """Per-neuron selectivity.

    ratio: P99 / median, with the rule for median <= 0 below; selective: ratio > beta;
    top_ids: for each selective neuron, its `top` probe images by activation (descending).
    """

    ratio: np.ndarray
    selective: np.ndarray
    p99: np.ndarray
    median: np.ndarray
    beta: float
    top_ids: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def selective_neurons(self) -> np.ndarray:
        return np.flatnonzero(self.selective)


def selectivity_ratio(p99: np.ndarray, median: np.ndarray) -> np.ndarray:
    """P99 / median, defined everywhere (no division warnings).

    The ratio is only meaningful for a positive median. Post-ReLU layers often have median 0, so:
    - median > 0:            P99 / median (>= 1, since P99 >= median);
    - median <= 0 < P99:     +inf. At least half the probe leaves the neuron at or below zero
                             while its top 1% is positive: as long-tailed as a response gets, so
                             it is selective for any β;
    - P99 <= 0 (and median): 0. Even its 99th percentile is not positive: the neuron is silent
                             (dead) on the probe and there is nothing to explain.
    """
    p99 = np.asarray(p99, dtype=np.float64)
    median = np.asarray(median, dtype=np.float64)
    out = np.zeros(np.broadcast(p99, median).shape, dtype=np.float64)
    pos = median > 0
    np.divide(p99, median, out=out, where=pos)
    out[~pos & (p99 > 0)] = np.inf
    return out


def select(acts: np.ndarray, beta: float = 10.0, *, top: int = 20, block: int = 256) -> SelectResult:
    """SIEVE Select on probe activations (n, N). Percentiles use numpy's default (linear)."""
    acts = np.asarray(acts) if not isinstance(acts, np.memmap) else acts
    top_ids: dict[int, np.ndarray] = {}
    if acts.ndim != 2 or acts.shape[0] == 0:
        raise ValueError(f"expected activations (n, N) with n > 0, got shape {acts.shape}")
    n, N = acts.shape
    k = min(int(top), n)
    p99, median = np.empty(N), np.empty(N)
    for s in range(0, N, block):  # column blocks bound the float64 copy of a memory-mapped matrix
        cols = np.asarray(acts[:, s:s + block], dtype=np.float64)
        if not np.isfinite(cols).all():
            raise ValueError("activations contain NaN or inf")
        median[s:s + block], p99[s:s + block] = np.percentile(cols, [50, 99], axis=0)
        ratio = selectivity_ratio(p99[s:s + block], median[s:s + block])
        chosen = np.flatnonzero(ratio > beta)
        if k > 0 and chosen.size:
            sub = cols[:, chosen]
            part = np.argpartition(-sub, k - 1, axis=0)[:k] if k < n else np.tile(np.arange(n)[:, None], (1, chosen.size))
            for c, j in enumerate(chosen):
                ids = part[:, c]
                # best first; equal activations by the lower image id, reproducibly
                top_ids[int(s + j)] = ids[np.lexsort((ids, -sub[ids, c]))]
    ratio = selectivity_ratio(p99, median)
    selective = ratio > beta
    return SelectResult(ratio, selective, p99, median, float(beta), top_ids)


# =========================================================================== CLIP of a workspace


class TemplatedClip:
    """A CLIP scorer whose text side averages a fixed set of prompt templates."""

    def __init__(self, scorer, templates: Sequence[str]):
        self.scorer, self.templates = scorer, tuple(templates)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return self.scorer.encode_images(images)

    def encode_texts(self, names: Sequence[str]) -> np.ndarray:
        return self.scorer.encode_texts(list(names), self.templates)


@functools.lru_cache(maxsize=4)
def clip_for_source(source: str = "clip", weights: Optional[str] = None) -> TemplatedClip:
    """The CLIP of a concept source ("clip": the shipped tiny CLIP; "open_clip:<arch>"), loaded once."""
    from neurodash.concepts import DEFAULT_TEMPLATES, ClipScorer, load_clip_source

    model, tokenizer = load_clip_source(source, weights)
    # the tiny CLIP learnt captions that are bare concept names ("red, circle"); real CLIPs
    # do better with CLIP-style prompts
    templates = ("{}",) if source == "clip" else DEFAULT_TEMPLATES
    clip = TemplatedClip(ClipScorer(model, tokenizer), templates)
    clip.key = f"{source}:{weights}"
    return clip


def _clip_key(ws, clip=None) -> str:
    """What identifies the CLIP that `workspace_clip(ws)` (or `clip`) is, without loading it."""
    if clip is None:
        clip = getattr(ws, "clip_scorer", None)
    if clip is not None:
        return str(getattr(clip, "key", type(clip).__name__))
    recipe = getattr(ws, "recipe", None)
    source = str(getattr(recipe, "concept_source", "") or "")
    if source.startswith("open_clip:"):
        return f"{source}:{getattr(recipe, 'clip_weights', None)}"
    return "clip:None"


def workspace_clip(ws) -> Any:
    """The workspace's CLIP (encode_images, encode_texts(names)): its own if it offers one
    (`ws.clip_scorer`), the open_clip model of an open_clip concept source, else the shipped tiny
    CLIP (the shapes world's)."""
    own = getattr(ws, "clip_scorer", None)
    if own is not None:
        return own() if callable(own) and not hasattr(own, "encode_images") else own
    recipe = getattr(ws, "recipe", None)
    source = str(getattr(recipe, "concept_source", "") or "")
    if source.startswith("open_clip:"):
        weights = getattr(recipe, "clip_weights", None)
        return clip_for_source(source, None if weights is None else str(weights))
    return clip_for_source("clip", None)


# =========================================================================== Hypothesize


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


def hypothesize(ws, neuron: int, *, top: int = 20, clip=None, n_concepts: int = 2, max_k: int = 5,
                min_silhouette: float = 0.25, min_size: int = 2, level: float = 0.5,
                concept_names: Optional[Sequence[str]] = None) -> list[Hypothesis]:
    """SIEVE Hypothesize for one neuron: clusters of its top-image crops, each named by CLIP."""
    ids, _acts, maps = ws.top_images(int(neuron), int(top))
    ids = np.asarray(ids)
    if ids.size == 0:
        return []
    images = np.asarray(ws.images(ids))
    crops = crop_images(images, np.asarray(maps), level=level)
    clip = workspace_clip(ws) if clip is None else clip
    emb = np.asarray(clip.encode_images(crops), dtype=np.float64)
    names = list(ws.concept_names if concept_names is None else concept_names)
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


# =========================================================================== renders and ARs


def _cache(ws) -> Optional[CacheDir]:
    """The workspace's cache directory, or None (then nothing is cached)."""
    for attr in ("cache", "cache_dir", "store"):
        obj = getattr(ws, attr, None)
        if isinstance(obj, CacheDir):
            return obj
    for attr in ("directory", "path", "root"):
        p = getattr(ws, attr, None)
        if p is not None and not callable(p):
            return CacheDir(p)
    return None


def _generator_key(generator: Generator) -> dict:
    ident = generator.identity() if hasattr(generator, "identity") else {"generator": generator.name}
    return {"sieve": SIEVE_FORMAT, **ident}


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


def render_activations(ws, concept: str, *, generator: Generator, m: int = 20, seed: int = 0,
                       progress: Optional[Progress] = None, cancel: Any = None,
                       keep_images: bool = True) -> np.ndarray:
    """Pooled activations float32 (m, N) of the workspace's layer on m renders of `concept`.

    Cached per (generator identity, concept, m, seed) in the workspace directory: activations under
    sieve/acts/, renders under sieve/renders/ (for display: at most DISPLAY_SIDE pixels a side; a
    full-size cached render is re-read rather than redrawn when its activations are missing).
    """
    key = stable_hash({**_generator_key(generator), "concept": concept, "m": int(m), "seed": int(seed)})
    store = _cache(ws)
    acts_name, render_name = f"sieve/acts/{key}.npy", f"sieve/renders/{key}.npy"
    if store is not None and store.has(acts_name):
        try:
            acts = store.read_array(acts_name)
            if acts.shape[0] == m:
                _report(progress, 1.0, f"{concept!r}: cached")
                return acts
        except Exception:  # a damaged cache file is recomputed, never trusted
            pass
    images = None
    if store is not None and store.has(render_name):
        try:
            info = store.read_json(f"sieve/renders/{key}.json")
            if info.get("full_size", False):  # a display-size copy would change the activations
                images = store.read_array(render_name)
        except Exception:
            images = None
    if images is None:
        images = generator.render(concept, int(m), int(seed), progress=_span(progress, 0.0, 0.9), cancel=cancel)
        if store is not None and keep_images:
            shown = _display_copy(images)
            store.write_array(render_name, shown)
            store.write_json(f"sieve/renders/{key}.json", {**_generator_key(generator), "concept": concept,
                                                            "m": int(m), "seed": int(seed),
                                                            "full_size": shown.shape == images.shape})
    _check_cancel(cancel)
    _report(progress, 0.9, f"{concept!r}: the model reads {m} renders")
    acts, _maps = ws.forward(images)
    acts = np.asarray(acts, dtype=np.float32)
    if store is not None:
        store.write_array(acts_name, acts)
    _report(progress, 1.0, f"{concept!r}: done")
    return acts


def rendered_images(ws, concept: str, *, generator: Generator, m: int = 20, seed: int = 0) -> Optional[np.ndarray]:
    """The cached renders of a concept (for display, at most DISPLAY_SIDE a side), or None."""
    key = stable_hash({**_generator_key(generator), "concept": concept, "m": int(m), "seed": int(seed)})
    store = _cache(ws)
    name = f"sieve/renders/{key}.npy"
    if store is None or not store.has(name):
        return None
    return store.read_array(name)


def activation_thresholds(ws, top_fraction: float = 0.01) -> np.ndarray:
    """Each neuron's activation a render must exceed: its top-`top_fraction` value on the probe.

    0.01 is the paper's top-1% (the workspace's own `top1_threshold()`); a larger fraction suits
    a probe whose concepts are common (every shapes-world concept is in >= 3% of images), where
    "beats 99% of the probe" asks more than showing the concept can give.
    """
    if not 0.0 < float(top_fraction) < 1.0:
        raise ValueError(f"top_fraction must lie in (0, 1), got {top_fraction}")
    if float(top_fraction) == 0.01 and hasattr(ws, "top1_threshold"):
        return np.asarray(ws.top1_threshold(), dtype=np.float64)
    from neurodash.extract import top_fraction_threshold

    return np.asarray(top_fraction_threshold(ws.acts, float(top_fraction)), dtype=np.float64)


def activation_hits(acts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """bool (m, N): render i pushes neuron j strictly above its top-1% probe threshold."""
    return np.asarray(acts) > np.asarray(thresholds)[None, :]


# =========================================================================== control concept


def choose_control(ws, concept: str, *, candidates: Optional[Sequence[str]] = None, clip=None) -> str:
    """The control concept for `concept`: the candidate least associated with it.

    A control answers "do renders of any unrelated concept fire the neuron as often?". For a
    concept of the workspace's set, "unrelated" is measured on the probe: the candidate whose
    concept activations have the smallest absolute Pearson correlation with the hypothesis's
    (constant columns and names sharing a word with the hypothesis are skipped; ties to the lower
    index). For a free-text concept, the candidate with the lowest CLIP text cosine.
    """
    names = list(ws.concept_names)
    pool = list(names if candidates is None else candidates)
    words = set(concept.lower().split())
    pool = [c for c in pool if c != concept and not (set(c.lower().split()) & words)]
    if not pool:
        raise ValueError(f"no control concept unrelated to {concept!r} among the candidates")
    if concept in names:
        C = np.asarray(ws.concepts)
        idx = {n: i for i, n in enumerate(names)}
        target = C[:, idx[concept]].astype(np.float64)
        best, best_r = None, np.inf
        for c in pool:
            if c not in idx:
                continue
            col = C[:, idx[c]].astype(np.float64)
            if target.std() == 0 or col.std() == 0:
                continue
            r = abs(float(np.corrcoef(target, col)[0, 1]))
            if r < best_r - 1e-12:
                best, best_r = c, r
        if best is not None:
            return best
    clip = workspace_clip(ws) if clip is None else clip
    t = np.asarray(clip.encode_texts([concept] + pool), dtype=np.float64)
    return pool[int(np.argmin(t[1:] @ t[0]))]


# =========================================================================== Verify


@dataclass
class VerifyResult:
    neuron: int
    concept: str
    generator: str
    m: int
    seed: int
    hits: int
    ar: float
    interval: tuple[float, float]
    control: str
    control_hits: int
    control_ar: float
    control_interval: tuple[float, float]
    threshold: float  # the AR a hypothesis must reach to be kept
    threshold_source: str
    passed: bool  # ar >= threshold
    p_vs_control: float  # Fisher exact, one-sided: AR > control AR
    activation_threshold: float  # the neuron's top-1% (top_fraction) probe activation
    activations: list[float]  # pooled activation of each render
    confidence: float = 0.95
    top_fraction: float = 0.01  # activation_threshold is the neuron's top-`top_fraction` probe value

    @property
    def verdict(self) -> str:
        return "verified" if self.passed else "rejected"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["interval"] = list(self.interval)
        d["control_interval"] = list(self.control_interval)
        return d


def _generator(generator) -> Generator:
    return get_generator(generator) if isinstance(generator, str) else generator


def verify(ws, neuron: int, concept: str, *, generator: Any = "world", m: int = 20, seed: int = 0,
           control: Optional[str] = None, threshold: Optional[float] = None, confidence: float = 0.95,
           method: str = "wilson", beta: float = 10.0, top_fraction: float = 0.01,
           progress: Optional[Progress] = None, cancel: Any = None) -> VerifyResult:
    """SIEVE Verify: the Activation Rate of `concept` for `neuron`, its interval, and a control's.

    threshold: the AR a hypothesis must reach to be kept. None -> the paper's rule, the mean AR of
    all of SIEVE's hypotheses on this layer (computed with the same generator, m and seed, and
    cached; see sieve_run). A float in [0, 1] fixes it.
    The control's renders use seed + 1 so they never share noise with the hypothesis's.
    """
    generator = _generator(generator)
    neuron = int(neuron)
    if not 0 <= neuron < int(ws.n_neurons):
        raise ValueError(f"neuron {neuron} is out of range: this layer has {ws.n_neurons} neurons")
    if m < 1:
        raise ValueError("m must be at least 1")
    thresholds = activation_thresholds(ws, top_fraction)
    control = choose_control(ws, concept) if control is None else control
    acts = render_activations(ws, concept, generator=generator, m=m, seed=seed,
                              progress=_span(progress, 0.0, 0.4), cancel=cancel)
    ctrl = render_activations(ws, control, generator=generator, m=m, seed=seed + 1,
                              progress=_span(progress, 0.4, 0.8), cancel=cancel)
    hits = int(activation_hits(acts[:, [neuron]], thresholds[[neuron]]).sum())
    chits = int(activation_hits(ctrl[:, [neuron]], thresholds[[neuron]]).sum())
    if threshold is None:
        run = sieve_run(ws, generator=generator, m=m, seed=seed, beta=beta, top_fraction=top_fraction,
                        progress=_span(progress, 0.8, 1.0), cancel=cancel)
        threshold, source = run["mean_ar"], f"mean AR of {len(run['hypotheses'])} SIEVE hypotheses on this layer"
        if not np.isfinite(threshold):
            threshold, source = 0.5, "0.5 (no SIEVE hypotheses on this layer to average)"
    else:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"the AR threshold must lie in [0, 1], got {threshold}")
        source = "given"
    _report(progress, 1.0, "verified")
    return VerifyResult(
        neuron=neuron, concept=concept, generator=generator.name, m=int(m), seed=int(seed),
        hits=hits, ar=hits / m, interval=binomial_interval(hits, m, confidence, method),
        control=control, control_hits=chits, control_ar=chits / m,
        control_interval=binomial_interval(chits, m, confidence, method),
        threshold=float(threshold), threshold_source=source, passed=bool(hits / m >= float(threshold)),
        p_vs_control=compare_rates(hits, m, chits, m).p_value,
        activation_threshold=float(thresholds[neuron]), activations=[float(a) for a in acts[:, neuron]],
        confidence=confidence, top_fraction=float(top_fraction))


# =========================================================================== layer-wide runs


def _ar_matrix(ws, concepts: Sequence[str], *, generator: Generator, m: int, seed: int,
               progress: Optional[Progress], cancel: Any, top_fraction: float = 0.01) -> dict[str, np.ndarray]:
    """concept -> AR of every neuron (N,) on m renders of it."""
    thresholds = activation_thresholds(ws, top_fraction)
    uniq = list(dict.fromkeys(concepts))
    out = {}
    for i, c in enumerate(uniq):
        _check_cancel(cancel)
        acts = render_activations(ws, c, generator=generator, m=m, seed=seed,
                                  progress=_span(progress, i / len(uniq), (i + 1) / len(uniq)), cancel=cancel)
        out[c] = activation_hits(acts, thresholds).mean(axis=0)
    return out


def sieve_run(ws, *, generator: Any = "world", m: int = 20, seed: int = 0, beta: float = 10.0,
              top: int = 20, top_fraction: float = 0.01, progress: Optional[Progress] = None,
              cancel: Any = None, clip=None) -> dict:
    """SIEVE on the whole layer: Select, Hypothesize every selective neuron, AR of every hypothesis.

    Returns {"selective": [...], "ratio": [...], "hypotheses": [{neuron, cluster, rank, concept,
    score, ar}], "mean_ar": mean AR over all hypotheses (the paper's keep-threshold)}.
    Cached in the workspace directory per (generator, m, seed, beta, top).
    """
    generator = _generator(generator)
    store = _cache(ws)
    key = stable_hash({**_generator_key(generator), "m": int(m), "seed": int(seed), "beta": float(beta),
                       "top": int(top), "what": "sieve_run", "top_fraction": float(top_fraction),
                       "clip": _clip_key(ws, clip)})
    name = f"sieve/runs/{key}.json"
    if store is not None and store.has(name):
        try:
            return store.read_json(name)
        except Exception:
            pass
    clip = workspace_clip(ws) if clip is None else clip  # loaded only when the run is computed
    _report(progress, 0.0, "Select")
    sel = select(ws.acts, beta, top=top)
    neurons = sel.selective_neurons
    rows = []
    for i, j in enumerate(neurons):
        _check_cancel(cancel)
        _report(progress, 0.05 + 0.45 * i / max(len(neurons), 1), f"Hypothesize neuron {j}")
        for h in hypothesize(ws, int(j), top=top, clip=clip):
            for rank, (c, s) in enumerate(zip(h.concepts, h.scores)):
                rows.append({"neuron": int(j), "cluster": h.cluster, "rank": rank, "concept": c,
                             "score": float(s), "cluster_size": int(len(h.image_ids))})
    ars = _ar_matrix(ws, [r["concept"] for r in rows], generator=generator, m=m, seed=seed,
                     progress=_span(progress, 0.5, 1.0), cancel=cancel, top_fraction=top_fraction)
    for r in rows:
        r["ar"] = float(ars[r["concept"]][r["neuron"]])
    mean_ar = float(np.mean([r["ar"] for r in rows])) if rows else float("nan")
    run = {"selective": [int(j) for j in neurons], "ratio": [None if not np.isfinite(x) else float(x) for x in sel.ratio],
           "beta": float(beta), "top_fraction": float(top_fraction), "hypotheses": rows, "mean_ar": mean_ar, "m": int(m), "seed": int(seed),
           "generator": _generator_key(generator)}
    if store is not None:
        store.write_json(name, run)
    _report(progress, 1.0, "SIEVE run done")
    return run


def _probe_images(ws, batch: int = 512):
    for s in range(0, int(ws.n_images), batch):
        ids = np.arange(s, min(s + batch, int(ws.n_images)))
        yield s, np.asarray(ws.images(ids))


def clip_concept_activations(ws, *, clip=None, progress: Optional[Progress] = None) -> np.ndarray:
    """CLIP-Dissect's P(concept | image) (softmax of 10·cos) for every probe image (n, C).

    The workspace's own concepts when its concept source is CLIP already; otherwise computed with
    the workspace's CLIP and cached under sieve/.
    """
    from neurodash.concepts import clip_activations

    source = str(getattr(getattr(ws, "recipe", None), "concept_source", "") or "")
    if (source == "clip" or source.startswith("open_clip:")) and not getattr(ws, "has_ground_truth", True):
        return np.asarray(ws.concepts, dtype=np.float32)
    store = _cache(ws)
    name = f"sieve/clip_concepts-{stable_hash(_clip_key(ws, clip))[:16]}.npy"
    if store is not None and store.has(name):
        try:
            arr = store.read_array(name)
            if arr.shape == (int(ws.n_images), len(ws.concept_names)):
                return arr
        except Exception:
            pass
    clip = workspace_clip(ws) if clip is None else clip
    text = np.asarray(clip.encode_texts(list(ws.concept_names)), dtype=np.float32)
    cos = np.zeros((int(ws.n_images), len(text)), np.float32)
    for s, images in _probe_images(ws):
        cos[s:s + len(images)] = np.asarray(clip.encode_images(images), dtype=np.float32) @ text.T
        _report(progress, (s + len(images)) / int(ws.n_images), "CLIP concept activations")
    probs = clip_activations(cos, "softmax")
    if store is not None:
        store.write_array(name, probs)
    return probs


def _netdissect_iou(ws, neurons: list[int], acts: np.ndarray, concepts: np.ndarray) -> np.ndarray:
    """IoU (len(neurons), C): the workspace's pixel IoU where it has masks, else image-level IoU."""
    from neurodash.stats.metrics import similarity

    matrix = getattr(ws, "metric_matrix", None)
    if matrix is not None:
        metric = "pixel_iou" if getattr(ws, "has_masks", False) else "iou"
        return np.asarray(matrix(metric))[neurons]
    return similarity(acts, concepts, "iou")


def baseline_explanations(ws, neurons: Sequence[int], *, be_metric: str = "iou", be_K: int = 100,
                          seed: int = 0, clip=None, progress: Optional[Progress] = None) -> dict[str, dict[int, str]]:
    """source -> {neuron: concept}: each baseline's one explanation per neuron.

    - "NetDissect (best IoU)": argmax of IoU against the workspace's concepts: pixel IoU where the
      workspace has concept masks (the shapes world, ground truth), else image-level IoU.
    - "CLIP-Dissect (best soft-WPMI)": argmax of soft-WPMI against CLIP concept activations.
    - "BE top concept": the most frequent bootstrap winner (K resamples, metric be_metric).
    - "random concept": a seeded uniform draw, the floor any method should beat.
    """
    from neurodash.stats.bootstrap import bootstrap_winners_many
    from neurodash.stats.metrics import similarity

    neurons = [int(j) for j in neurons]
    names = list(ws.concept_names)
    if not neurons:
        return {k: {} for k in ("NetDissect (best IoU)", "CLIP-Dissect (best soft-WPMI)", "BE top concept", "random concept")}
    acts = np.asarray(ws.acts[:, neurons], dtype=np.float32)
    concepts = np.asarray(ws.concepts, dtype=np.float32)
    _report(progress, 0.0, "NetDissect: IoU")
    iou = _netdissect_iou(ws, neurons, acts, concepts)
    _report(progress, 0.2, "CLIP-Dissect: CLIP concept activations")
    clip_probs = clip_concept_activations(ws, clip=clip, progress=_span(progress, 0.2, 0.6))
    # soft-WPMI subtracts a per-concept term averaged over the layer's neurons (CLIP-Dissect), so
    # it is computed on the whole layer and then read for the neurons asked for
    wpmi = similarity(np.asarray(ws.acts, dtype=np.float32), clip_probs, "soft_wpmi")[neurons]
    _report(progress, 0.6, "BE: bootstrap")
    winners, _scores = bootstrap_winners_many(acts, concepts, be_metric, K=be_K, seed=seed,
                                              progress=_span(progress, 0.6, 0.99))
    be_top = [int(np.bincount(w, minlength=len(names)).argmax()) for w in np.asarray(winners)]
    rng = np.random.default_rng(seed)
    rand = rng.integers(0, len(names), size=len(neurons))
    _report(progress, 1.0, "baselines done")
    return {
        "NetDissect (best IoU)": {j: names[int(np.argmax(iou[i]))] for i, j in enumerate(neurons)},
        "CLIP-Dissect (best soft-WPMI)": {j: names[int(np.argmax(wpmi[i]))] for i, j in enumerate(neurons)},
        "BE top concept": {j: names[be_top[i]] for i, j in enumerate(neurons)},
        "random concept": {j: names[int(rand[i])] for i, j in enumerate(neurons)},
    }


def layer_table(ws, *, generator: Any = "world", m: int = 20, seed: int = 0, eval_seed: Optional[int] = None,
                beta: float = 10.0, top: int = 20, threshold: Optional[float] = None, be_metric: str = "iou",
                be_K: int = 100, top_fraction: float = 0.01, clip=None, progress: Optional[Progress] = None,
                cancel: Any = None):
    """The paper's "mean AR per method" table on this layer (pandas DataFrame).

    Every method explains the same neurons: SIEVE's selective ones (baselines also over all
    neurons, in rows marked "all"). SIEVE keeps a hypothesis when its AR on the verification renders
    (seed) reaches the threshold (default: their mean AR). All ARs in the table are then measured
    on fresh renders (eval_seed, default seed + 1000): reusing the renders that selected a
    hypothesis to score it would flatter SIEVE by construction.
    """
    import pandas as pd

    generator = _generator(generator)
    eval_seed = seed + 1000 if eval_seed is None else int(eval_seed)
    run = sieve_run(ws, generator=generator, m=m, seed=seed, beta=beta, top=top, clip=clip,
                    top_fraction=top_fraction, progress=_span(progress, 0.0, 0.4), cancel=cancel)
    keep_at = run["mean_ar"] if threshold is None else float(threshold)
    selective = run["selective"]
    all_neurons = list(range(int(ws.n_neurons)))
    base = baseline_explanations(ws, all_neurons, be_metric=be_metric, be_K=be_K, seed=seed, clip=clip,
                                 progress=_span(progress, 0.4, 0.55))
    hyps = run["hypotheses"]
    verified = [h for h in hyps if np.isfinite(keep_at) and h["ar"] >= keep_at]
    wanted = [h["concept"] for h in hyps]
    for expl in base.values():
        wanted += list(expl.values())
    ars = _ar_matrix(ws, wanted, generator=generator, m=m, seed=eval_seed,
                     progress=_span(progress, 0.55, 1.0), cancel=cancel, top_fraction=top_fraction)

    def row(source, neurons, pairs):
        vals = np.array([ars[c][j] for j, c in pairs], dtype=np.float64)
        n = len(vals)
        return {"source": source, "neurons": neurons, "explanations": n,
                "explained_neurons": len({j for j, _ in pairs}),
                "mean_ar": float(vals.mean()) if n else float("nan"),
                "se": float(vals.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")}

    rows = []
    sel_set = set(selective)
    for source, expl in base.items():
        rows.append(row(source, "selective", [(j, c) for j, c in expl.items() if j in sel_set]))
    rows.append(row("SIEVE, all hypotheses (no Verify)", "selective", [(h["neuron"], h["concept"]) for h in hyps]))
    rows.append(row("SIEVE, verified hypotheses", "selective", [(h["neuron"], h["concept"]) for h in verified]))
    for source, expl in base.items():
        rows.append(row(source, "all", list(expl.items())))
    table = pd.DataFrame(rows)
    table.attrs.update({"keep_threshold": keep_at, "verify_seed": seed, "eval_seed": eval_seed, "m": m,
                        "generator": generator.name, "selective_neurons": len(selective),
                        "neurons": int(ws.n_neurons), "beta": beta, "top_fraction": top_fraction})
    _report(progress, 1.0, "layer table done")
    return table


def explain_neuron(ws, neuron: int, *, generator: Any = "world", m: int = 20, seed: int = 0,
                   top: int = 20, threshold: Optional[float] = None, confidence: float = 0.95,
                   top_fraction: float = 0.01, clip=None, progress: Optional[Progress] = None,
                   cancel: Any = None) -> list[dict]:
    """SIEVE for one neuron, as rows for a page: every hypothesis (cluster, rank, concept, CLIP
    score, cluster size) with its AR, interval and verdict against `threshold` (None: the layer's
    mean AR of SIEVE hypotheses, which runs SIEVE over the layer once and caches it)."""
    generator = _generator(generator)
    clip = workspace_clip(ws) if clip is None else clip
    hyps = hypothesize(ws, int(neuron), top=top, clip=clip)
    if threshold is None:
        run = sieve_run(ws, generator=generator, m=m, seed=seed, top=top, clip=clip,
                        top_fraction=top_fraction, progress=_span(progress, 0.0, 0.6), cancel=cancel)
        threshold = run["mean_ar"] if np.isfinite(run["mean_ar"]) else 0.5
    concepts = [c for h in hyps for c in h.concepts]
    ars = _ar_matrix(ws, concepts, generator=generator, m=m, seed=seed,
                     progress=_span(progress, 0.6, 1.0), cancel=cancel, top_fraction=top_fraction)
    rows = []
    for h in hyps:
        for rank, (c, s) in enumerate(zip(h.concepts, h.scores)):
            ar = float(ars[c][int(neuron)])
            hits = int(round(ar * m))
            rows.append({"neuron": int(neuron), "cluster": h.cluster, "cluster_size": len(h.image_ids),
                         "image_ids": [int(i) for i in h.image_ids], "rank": rank, "concept": c,
                         "clip_score": float(s), "ar": ar,
                         "interval": binomial_interval(hits, m, confidence), "threshold": float(threshold),
                         "verdict": "verified" if ar >= threshold else "rejected"})
    _report(progress, 1.0, "done")
    return rows
