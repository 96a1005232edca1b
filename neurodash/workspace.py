"""The cached compute module the UI and the CLI call: one Workspace per Recipe.

A recipe names (model, layer, probe, concept set, concept source, pooling). Its cache directory is
``<root>/workspaces/<recipe.key()>``; inside, ``meta.json`` records a fingerprint of everything that
changes the numbers (weights file hash, probe listing hash, concept names, FORMAT_VERSION). A cache
whose fingerprint or manifest does not match is recomputed, and ``stale_reason`` says why.
Annotations are keyed by the recipe too but live in ``<root>/annotations/``: a recompute keeps them.

Choices documented here:
- default metrics: DEFAULT_METRICS (+ "pixel_iou" where the probe has masks);
- bands: Table 1's Cor. 3.2 band 2·r(δ/|C|) where the metric has a rate ("table1"); else an empirical
  bootstrap percentile interval of the score at level 1−δ ("empirical", K=EMPIRICAL_K resamples);
  pixel IoU has neither (its per-image counts are not kept), nor soft-WPMI (its marginal spans the
  layer, so a one-neuron bootstrap would bound another score): "none";
- ground-truth concept of a neuron (shapes world): its best pixel-IoU concept (image-level IoU where
  no masks); the sanity report uses these (neuron, best-IoU concept) pairs, all neurons.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from neurodash import cache as cache_mod
from neurodash.annotations import Annotation, Annotations
from neurodash.cache import CacheDir, CacheError, cache_root, stable_hash

log = logging.getLogger("neurodash")

DEFAULT_PROBE_N = 2000
DEFAULT_METRICS = ("iou", "recall", "precision", "auroc", "pearson")
EMPIRICAL_K = 100
TOP_K = 20
CORE_FILES = ("acts.npy", "concepts.npy", "topk_ids.npy", "topk_acts.npy", "topk_maps.npy",
              "top1_threshold.npy", "selectivity.npy")
SELECTIVITY_BETA = 10.0


class WorkspaceError(RuntimeError):
    """The workspace cannot answer (not precomputed, bad neuron index, unknown metric...)."""


def _abs(p: str | None) -> str | None:
    return None if p in (None, "") else str(Path(p).expanduser().resolve())


@dataclass(frozen=True)
class Recipe:
    """What a workspace computes. Paths are stored absolute, so the key does not depend on cwd."""
    model: str = "shapes-cnn"
    layer: str = ""
    probe: str = "world"            # "world" or an image-folder path
    probe_n: int = DEFAULT_PROBE_N  # world probe size (ignored for a folder)
    probe_seed: int = 0             # world probe seed (ignored for a folder)
    concept_set: str = "world"      # "world", "imagenet" or a text-file path
    concept_source: str = "ground_truth"  # "ground_truth", "clip" (tiny CLIP) or "open_clip:<arch>"
    clip_mode: str = "softmax"      # CLIP activations: "softmax" (CLIP-Dissect) or "sigmoid"
    pooling: str = "auto"           # auto/mean/max (conv), auto=cls/cls/mean/max (tokens)
    weights: str | None = None      # model weights file ("random" for a random torchvision init)
    arch: str | None = None         # torchvision arch for model "checkpoint"
    clip_weights: str | None = None  # checkpoint for an open_clip concept source
    labels_csv: str | None = None   # ground-truth labels of a folder probe

    def __post_init__(self):
        norm = object.__setattr__
        if self.probe != "world":
            norm(self, "probe", _abs(self.probe))
        if self.concept_set not in ("world", "imagenet"):
            norm(self, "concept_set", _abs(self.concept_set))
        if self.weights not in (None, "random"):
            norm(self, "weights", _abs(self.weights))
        norm(self, "clip_weights", _abs(self.clip_weights))
        norm(self, "labels_csv", _abs(self.labels_csv))
        if self.model.startswith("open_clip:") and self.model.endswith(".json"):
            norm(self, "model", "open_clip:" + _abs(self.model.split(":", 1)[1]))
        if not self.layer and self.model == "shapes-cnn":
            from neurodash import world
            norm(self, "layer", world.CNN_DEFAULT_LAYER)
        if not self.layer:
            raise WorkspaceError(f"a layer is needed for model {self.model}; list them with "
                                 f"`python -m neurodash layers --model {self.model}`")

    @classmethod
    def default(cls) -> "Recipe":
        from neurodash import world
        return cls(model="shapes-cnn", layer=world.CNN_DEFAULT_LAYER)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def key(self) -> str:
        return stable_hash(self.to_dict())[:20]

    def label(self) -> str:
        probe = f"world(n={self.probe_n}, seed={self.probe_seed})" if self.probe == "world" else self.probe
        return f"{self.model} · {self.layer} · {probe} · {self.concept_set} / {self.concept_source}"


@dataclass
class ConceptScore:
    concept: str
    index: int
    score: float
    band: float            # Table 1: Cor. 3.2 band 2r; empirical: interval width; nan for "none"
    lo: float              # score ± r (Table 1) or the bootstrap percentile interval (empirical)
    hi: float
    band_kind: str         # "table1" | "empirical" | "none"


@dataclass
class NeuronCard:
    neuron: int
    layer: str
    n_images: int
    top_ids: np.ndarray
    top_acts: np.ndarray
    top_maps: np.ndarray
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    top1_threshold: float
    selectivity: float
    selective: bool
    concepts: dict[str, list[ConceptScore]]
    ground_truth: ConceptScore | None
    annotation: Annotation
    delta: float = 0.05

    def to_json(self, *, maps: bool = False) -> dict:
        d = {
            "neuron": self.neuron, "layer": self.layer, "n_images": self.n_images,
            "top_ids": self.top_ids.tolist(), "top_acts": self.top_acts.tolist(),
            "histogram": {"counts": self.hist_counts.tolist(), "edges": self.hist_edges.tolist()},
            "top1_threshold": self.top1_threshold, "selectivity": self.selectivity,
            "selective": self.selective, "delta": self.delta,
            "concepts": {m: [asdict(c) for c in cs] for m, cs in self.concepts.items()},
            "ground_truth": None if self.ground_truth is None else asdict(self.ground_truth),
            "annotation": self.annotation.to_json(),
        }
        if maps:
            d["top_maps"] = self.top_maps.tolist()
        return d


@dataclass
class BEReport:
    neuron: int
    metric: str
    K: int
    seed: int
    t: float
    delta: float
    concept_names: list[str]
    histogram: list[int]          # winner counts per concept (C,)
    prediction_set: list[int]
    prediction_names: list[str]
    stability: float
    best: int                     # plug-in winner on the whole probe
    second: int
    gap: float                    # plug-in Δ = score(best) − score(second)
    p: float                      # Thm 4.1 error probability (nan: metric has no rate)
    coverage: float               # Eq. 9 lower bound (nan where p is nan)
    vacuous: bool                 # p ≥ 1 or no rate: the coverage bound says nothing
    has_rate: bool
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


class Workspace:
    """Answers neuron cards, layer tables, bootstrap and sanity reports from a cache, computing
    what is missing. Open with ``Workspace.open(recipe)``; build with ``ws.precompute()``."""

    def __init__(self, recipe: Recipe, root: Path):
        self.recipe = recipe
        self.root = root
        self.cache = CacheDir(root / "workspaces" / recipe.key())
        self.annotations = Annotations(root / "annotations" / f"{recipe.key()}.json")
        self._lock = FileLock(str(self.cache.path) + ".lock", timeout=-1)
        self._meta: dict | None = None
        self._fingerprint: str | None = None
        self._loaded = None
        self._reader = None
        self._probe = None
        self._arrays: dict[str, np.ndarray] = {}
        self.stale_reason: str | None = None  # why an existing cache is being recomputed

    # ---- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, recipe: Recipe | None = None, *, home=None) -> "Workspace":
        ws = cls(recipe or Recipe.default(), cache_root(home))
        ws._check()
        return ws

    def _check(self) -> None:
        """Trust the cache only if its fingerprint and manifest match; else say why."""
        self._meta, self._arrays = None, {}
        meta_file = self.cache.path / cache_mod.META
        if not meta_file.exists():
            self.stale_reason = None
            return
        try:
            meta = self.cache.read_json(cache_mod.META)
        except CacheError as err:
            self.stale_reason = str(err)
            return
        problems = self.cache.problems(required=CORE_FILES, only=CORE_FILES)
        if meta.get("fingerprint") != self.fingerprint(meta):
            problems.insert(0, "weights, probe or concepts changed since it was computed")
        if problems:
            self.stale_reason = "; ".join(problems[:3])
            log.warning("cache %s does not match (%s): it will be recomputed", self.cache.path,
                        self.stale_reason)
            return
        self._meta, self.stale_reason = meta, None

    def fingerprint(self, meta: dict | None = None) -> str:
        if self._fingerprint is None:
            self._fingerprint = stable_hash({
                "recipe": self.recipe.key(),
                "weights": self._weights_identity(),
                "clip": self._clip_identity(),
                "probe": self._make_probe(meta).listing_hash(),
                "concepts": self._concept_names(),
                "format": cache_mod.FORMAT_VERSION,
            })
        return self._fingerprint

    def _weights_identity(self) -> str:
        r = self.recipe
        if r.weights == "random":
            return "random"
        if r.weights:
            return cache_mod.memo_file_sha256(r.weights, self.root)
        if r.model == "shapes-cnn":
            from neurodash.world import cnn
            return cache_mod.memo_file_sha256(cnn.CNN_WEIGHTS, self.root)
        if r.model == "tiny-clip":
            return self._tiny_clip_identity()
        from neurodash import models
        if r.model.startswith("open_clip:") or r.model == "checkpoint":
            raise models.ModelError(f"model {r.model} needs --weights FILE")
        path, _url = models.torchvision_default_file(r.model)
        if not path.is_file():
            models.load_model(r.model, device="cpu")  # raises the "where to put it" message
        return cache_mod.memo_file_sha256(path, self.root)

    def _tiny_clip_identity(self) -> str:
        from neurodash import world
        try:
            from neurodash.world import clip as wclip
            path = getattr(wclip, "CLIP_WEIGHTS", None)
        except ImportError:
            path = None
        if path is not None and Path(path).is_file():
            return cache_mod.memo_file_sha256(path, self.root)
        from neurodash.models import state_dict_hash
        return state_dict_hash(world.load_clip()[0])

    def _clip_identity(self) -> str:
        src = self.recipe.concept_source
        if src == "clip":
            if self.recipe.clip_weights:
                return cache_mod.memo_file_sha256(self.recipe.clip_weights, self.root)
            return self._tiny_clip_identity()
        if src.startswith("open_clip:"):
            if not self.recipe.clip_weights:
                raise WorkspaceError(f"concept source {src} needs --clip-weights FILE")
            return cache_mod.memo_file_sha256(self.recipe.clip_weights, self.root)
        return ""

    def _concept_names(self) -> list[str]:
        from neurodash.concepts import concept_set
        return concept_set(self.recipe.concept_set)

    def _make_probe(self, meta: dict | None = None, progress=None):
        if self._probe is None:
            from neurodash.probes import make_probe
            r = self.recipe
            size = 64 if r.probe == "world" else (meta or {}).get("probe_image_size") or self.loaded.input_size
            files = (meta or {}).get("files")
            self._probe = make_probe(r.probe, n=r.probe_n, seed=r.probe_seed, size=size,
                                     labels_csv=r.labels_csv, files=files, progress=progress)
        return self._probe

    def is_ready(self) -> bool:
        return self._meta is not None

    def _need_ready(self) -> dict:
        if self._meta is None:
            raise WorkspaceError(f"workspace {self.recipe.label()} is not computed yet: run "
                                 "`python -m neurodash precompute` (or ws.precompute())")
        return self._meta

    # ---- model ----------------------------------------------------------------------------------
    @property
    def loaded(self):
        if self._loaded is None:
            from neurodash.models import load_model
            r = self.recipe
            self._loaded = load_model(r.model, weights=r.weights, arch=r.arch)
        return self._loaded

    @property
    def reader(self):
        if self._reader is None:
            from neurodash.models import LayerReader
            self._reader = LayerReader(self.loaded, self.recipe.layer, self.recipe.pooling)
        return self._reader

    # ---- precompute -----------------------------------------------------------------------------
    def precompute(self, progress=None, cancel=None, *, batch: int = 64) -> None:
        """Compute everything the neuron and layer pages need; no-op when the cache is ready."""
        say = progress or (lambda f, m: None)
        with self._lock:
            self._check()  # another process may have finished it while we waited
            if self.is_ready():
                say(1.0, "cache ready")
                return
            if self.stale_reason:
                say(0.0, f"recomputing: the cache did not match ({self.stale_reason})")
            t0 = time.perf_counter()
            self._compute(say, cancel, batch)
            self._check()
            if not self.is_ready():
                raise CacheError(f"cache {self.cache.path} failed its own check after writing: "
                                 f"{self.stale_reason}")
            say(1.0, f"done in {time.perf_counter() - t0:.1f} s")

    def _compute(self, say, cancel, batch: int) -> None:
        from neurodash import concepts as concepts_mod
        from neurodash import extract as extract_mod

        self.cache.clear()
        self._probe = self._fingerprint = None
        say(0.01, f"loading {self.recipe.model}")
        reader = self.reader
        probe = self._make_probe(progress=lambda f, m: say(0.02 + 0.03 * f, m))
        fingerprint = self.fingerprint()
        n = len(probe)
        names = self._concept_names()
        n_neurons, map_shape = extract_mod.probe_shape(reader, probe)
        with_masks = probe.has_masks and self.recipe.concept_source == "ground_truth"

        maps_file = self.cache.path / ".maps.tmp.npy"  # all maps, only while pixel IoU needs them
        maps = extract_mod.SpillFile(maps_file, n, (n_neurons, *map_shape)) if with_masks else None
        try:
            with self.cache.stream_array("acts.npy", (n, n_neurons), np.float32) as acts:
                ex = extract_mod.extract(reader, probe, acts, k=TOP_K, batch=batch,
                                         pixel_threshold=with_masks, maps_out=maps, cancel=cancel,
                                         progress=lambda f, m: say(0.05 + 0.6 * f, m))
                top1 = extract_mod.top_fraction_threshold(acts, 0.01)
                selectivity = _selectivity(acts)
            self.cache.write_array("topk_ids.npy", ex.topk_ids)
            self.cache.write_array("topk_acts.npy", ex.topk_acts)
            self.cache.write_array("topk_maps.npy", ex.topk_maps)
            self.cache.write_array("top1_threshold.npy", top1)
            self.cache.write_array("selectivity.npy", selectivity)

            src = self.recipe.concept_source
            if src == "ground_truth":
                say(0.66, "ground-truth concept labels")
                conc = concepts_mod.ground_truth(probe, names)
            else:
                model, tokenizer = concepts_mod.load_clip_source(src, self.recipe.clip_weights)
                scorer = concepts_mod.ClipScorer(model, tokenizer)
                conc = concepts_mod.clip_concepts(probe, names, scorer, mode=self.recipe.clip_mode,
                                                  progress=lambda f, m: say(0.66 + 0.14 * f, m))
                conc = conc.astype(np.float16)
            self.cache.write_array("concepts.npy", conc)

            if with_masks:
                iou = extract_mod.pixel_iou(maps, probe, ex.pixel_threshold, cancel=cancel,
                                            device=self.loaded.device,
                                            progress=lambda f, m: say(0.8 + 0.15 * f, m))
                self.cache.write_array("pixel_threshold.npy", ex.pixel_threshold)
                self.cache.write_array("metrics/pixel_iou.npy", iou.astype(np.float32))
        finally:
            if maps is not None:
                maps.close()
                maps_file.unlink(missing_ok=True)

        meta = {
            "recipe": self.recipe.to_dict(), "fingerprint": fingerprint,
            "format_version": cache_mod.FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "n_images": n, "n_neurons": int(n_neurons), "map_shape": list(map_shape),
            "concept_names": names, "has_masks": bool(with_masks),
            "probe_image_size": int(getattr(probe, "size", 64)),
            "files": getattr(probe, "files", None),
            "probe_report": probe.report.summary() if hasattr(probe, "report") else "",
            "device": str(self.loaded.device),
        }
        # Default metric matrices, so the first page view does not wait.
        self._meta = meta
        for i, m in enumerate(DEFAULT_METRICS):
            say(0.96 + 0.04 * i / len(DEFAULT_METRICS), f"metric {m}")
            self.metric_matrix(m)
        self._meta = None
        self.cache.write_json(cache_mod.META, meta)  # written last: the commit marker

    # ---- plain properties -----------------------------------------------------------------------
    def _array(self, name: str, mmap: bool = False) -> np.ndarray:
        if name not in self._arrays:
            self._need_ready()
            self._arrays[name] = self.cache.read_array(name, mmap=mmap)
        return self._arrays[name]

    @property
    def meta(self) -> dict:
        return self._need_ready()

    @property
    def n_images(self) -> int:
        return int(self.meta["n_images"])

    @property
    def n_neurons(self) -> int:
        return int(self.meta["n_neurons"])

    @property
    def concept_names(self) -> list[str]:
        return list(self.meta["concept_names"])

    @property
    def acts(self) -> np.ndarray:
        return self._array("acts.npy", mmap=True)

    @property
    def concepts(self) -> np.ndarray:
        c = self._array("concepts.npy")
        return c if c.dtype == bool else c.astype(np.float32)

    @property
    def has_ground_truth(self) -> bool:
        return self.recipe.concept_source == "ground_truth"

    @property
    def has_masks(self) -> bool:
        return bool(self.meta.get("has_masks"))

    @property
    def layer(self) -> str:
        return self.recipe.layer

    @property
    def probe(self):
        return self._make_probe(self.meta)

    def default_metrics(self) -> list[str]:
        return list(DEFAULT_METRICS) + (["pixel_iou"] if self.has_masks else [])

    def _neuron(self, neuron: int) -> int:
        neuron = int(neuron)
        if not 0 <= neuron < self.n_neurons:
            raise WorkspaceError(f"neuron {neuron} is outside this layer (0..{self.n_neurons - 1})")
        return neuron

    # ---- images and top activations --------------------------------------------------------------
    def images(self, ids) -> np.ndarray:
        return self.probe.images(ids)

    def top_images(self, neuron: int, k: int = 20):
        """(ids int64 (k,), acts float32 (k,), maps float32 (k,h,w)) best first; k ≤ TOP_K."""
        neuron = self._neuron(neuron)
        k = min(int(k), self._array("topk_ids.npy").shape[1])
        return (self._array("topk_ids.npy")[neuron, :k].copy(),
                self._array("topk_acts.npy")[neuron, :k].copy(),
                self._array("topk_maps.npy", mmap=True)[neuron, :k].astype(np.float32))

    def top1_threshold(self) -> np.ndarray:
        return self._array("top1_threshold.npy")

    def selectivity(self) -> np.ndarray:
        return self._array("selectivity.npy")

    def forward(self, images: np.ndarray, batch: int = 64):
        """(acts float32 (m,N), maps float32 (m,N,h,w)) of new images through this model/layer."""
        images = np.asarray(images)
        acts, maps = [], []
        for s in range(0, len(images), batch):
            p, m = self.reader.read(self.loaded.to_input(images[s:s + batch]))
            acts.append(p.cpu().numpy())
            maps.append(m.cpu().numpy())
        if not acts:
            raise WorkspaceError("forward() needs at least one image")
        return np.concatenate(acts).astype(np.float32), np.concatenate(maps).astype(np.float32)

    # ---- metrics --------------------------------------------------------------------------------
    def metric_matrix(self, metric: str, alpha: float | None = None) -> np.ndarray:
        """float (N,C) scores of every neuron against every concept; computed once, cached on disk."""
        if metric == "pixel_iou":
            if not self.has_masks:
                raise WorkspaceError("pixel_iou needs a probe with concept masks (the shapes world "
                                     "with ground-truth concepts)")
            return self._array("metrics/pixel_iou.npy")
        from neurodash.stats import metrics as M
        if metric not in M.METRICS:
            raise WorkspaceError(f"unknown metric {metric!r}; choose from "
                                 f"{', '.join(list(M.METRICS) + ['pixel_iou'])}")
        name = f"metrics/{metric}_a{'default' if alpha is None else repr(float(alpha))}.npy"
        if name in self._arrays:
            return self._arrays[name]
        if self.cache.has(name):
            try:
                self._arrays[name] = self.cache.read_array(name)
                return self._arrays[name]
            except CacheError as err:
                log.warning("%s; recomputing it", err)
        scores = M.similarity(np.asarray(self.acts), self.concepts, M.METRICS[metric], alpha=alpha)
        self.cache.write_array(name, np.asarray(scores, dtype=np.float64))
        self._arrays[name] = np.asarray(scores, dtype=np.float64)
        return self._arrays[name]

    def _alpha(self, metric: str) -> float:
        from neurodash.stats import metrics as M
        return M.METRICS[metric].default_alpha

    def _has_rate(self, metric: str) -> bool:
        if metric == "pixel_iou":
            return False
        from neurodash.stats import metrics as M
        return bool(M.METRICS[metric].has_rate)

    def _concept_scores(self, neuron: int, metric: str, idx: np.ndarray, scores: np.ndarray,
                        delta: float) -> list[ConceptScore]:
        names = self.concept_names
        C = len(names)
        out = []
        if self._has_rate(metric):
            from neurodash.stats import bounds, metrics as M
            active = M.binarize(np.asarray(self.acts[:, [neuron]]), self._alpha(metric))
            present = self.concepts[:, idx] >= 0.5
            band = np.asarray(bounds.band(metric, active, present, delta, C), dtype=float).reshape(-1)
            # the population score lies in the metric's range, so the interval is clipped to it
            lo_range, hi_range = M.METRICS[metric].range
            for j, c in enumerate(idx):
                r = band[j] / 2
                out.append(ConceptScore(names[c], int(c), float(scores[c]), float(band[j]),
                                        float(max(scores[c] - r, lo_range)),
                                        float(min(scores[c] + r, hi_range)), "table1"))
        elif metric in ("pixel_iou", "soft_wpmi"):
            # pixel IoU has no sample-level resampling here, and soft-WPMI's marginal spans the
            # whole layer, so a one-neuron bootstrap would bound a different score: no band
            for c in idx:
                out.append(ConceptScore(names[c], int(c), float(scores[c]), math.nan, math.nan,
                                        math.nan, "none"))
        else:
            lo, hi = self._empirical_interval(neuron, metric, idx, delta)
            for j, c in enumerate(idx):
                out.append(ConceptScore(names[c], int(c), float(scores[c]), float(hi[j] - lo[j]),
                                        float(lo[j]), float(hi[j]), "empirical"))
        return out

    def _empirical_interval(self, neuron: int, metric: str, idx: np.ndarray, delta: float,
                            K: int = EMPIRICAL_K, seed: int = 0):
        """Percentile interval (level 1−δ) of the score over K bootstrap resamples of the probe,
        all K scored in one batched call."""
        from neurodash.stats import bootstrap as B
        sims = B.bootstrap_scores(np.asarray(self.acts[:, neuron]), self.concepts[:, idx], metric,
                                  K=K, seed=seed)
        lo, hi = zip(*(B.score_interval(sims[:, j], 1 - delta) for j in range(len(idx))))
        return np.asarray(lo), np.asarray(hi)

    # ---- neuron card / layer table ------------------------------------------------------------------
    def neuron_card(self, neuron: int, *, metrics=None, top_concepts: int = 5,
                    delta: float = 0.05) -> NeuronCard:
        neuron = self._neuron(neuron)
        metrics = list(metrics or self.default_metrics())
        ids, acts, maps = self.top_images(neuron, TOP_K)
        column = np.asarray(self.acts[:, neuron], dtype=np.float64)
        counts, edges = np.histogram(column, bins=40)
        concepts = {}
        for m in metrics:
            scores = self.metric_matrix(m)[neuron]
            order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:top_concepts]
            concepts[m] = self._concept_scores(neuron, m, order, scores, delta)
        sel = float(self.selectivity()[neuron])
        return NeuronCard(
            neuron=neuron, layer=self.layer, n_images=self.n_images, top_ids=ids, top_acts=acts,
            top_maps=maps, hist_counts=counts, hist_edges=edges,
            top1_threshold=float(self.top1_threshold()[neuron]), selectivity=sel,
            selective=bool(sel > SELECTIVITY_BETA), concepts=concepts,
            ground_truth=self._ground_truth_concept(neuron, delta), annotation=self.annotations.get(neuron),
            delta=delta,
        )

    def ground_truth_pairs(self) -> list[tuple[int, int]]:
        """(neuron, its best concept) for every neuron: best pixel IoU where masks exist, else IoU."""
        best = self.metric_matrix("pixel_iou" if self.has_masks else "iou")
        return [(k, int(np.nanargmax(row))) if np.isfinite(row).any() else (k, 0)
                for k, row in enumerate(best)]

    def _ground_truth_concept(self, neuron: int, delta: float) -> ConceptScore | None:
        if not self.has_ground_truth:
            return None
        metric = "pixel_iou" if self.has_masks else "iou"
        scores = self.metric_matrix(metric)[neuron]
        c = self.ground_truth_pairs()[neuron][1]
        return self._concept_scores(neuron, metric, np.array([c]), scores, delta)[0]

    def layer_table(self, *, metrics=None, delta: float = 0.05) -> pd.DataFrame:
        """One row per neuron: best concept, score and Table 1 band (nan: no rate) per metric,
        selectivity, top-1% threshold, the ground-truth concept and the triage status."""
        from neurodash.stats import bounds
        metrics = list(metrics or self.default_metrics())
        names = np.asarray(self.concept_names, dtype=object)
        C = len(names)
        df = pd.DataFrame({"neuron": np.arange(self.n_neurons)})
        sel = self.selectivity()
        df["selectivity"] = sel
        df["selective"] = sel > SELECTIVITY_BETA
        df["top1_threshold"] = self.top1_threshold()
        conc_present = None
        for m in metrics:
            S = self.metric_matrix(m)
            best = np.argmax(np.nan_to_num(S, nan=-np.inf), axis=1)
            df[f"{m}_concept"] = names[best]
            df[f"{m}_score"] = S[np.arange(len(S)), best]
            band = np.full(len(S), np.nan)
            if self._has_rate(m):
                from neurodash.stats import metrics as M
                active = M.binarize(np.asarray(self.acts), self._alpha(m))      # (n,N)
                if conc_present is None:
                    conc_present = self.concepts >= 0.5
                present = conc_present[:, best]                                   # (n,N)
                n = active.shape[0]
                n_f = active.sum(0)
                n_c = present.sum(0)
                n_union = (active | present).sum(0)
                band = 2 * np.asarray(bounds.rate_from_counts(m, n, n_f, n_c, n_union,
                                                              bounds.union_delta(delta, C)), float)
            df[f"{m}_band"] = band
        if self.has_ground_truth:
            pairs = self.ground_truth_pairs()
            gt_metric = "pixel_iou" if self.has_masks else "iou"
            S = self.metric_matrix(gt_metric)
            df["gt_concept"] = [names[c] for _, c in pairs]
            df[f"gt_{gt_metric}"] = [S[k, c] for k, c in pairs]
        notes = self.annotations.all()
        df["status"] = [notes[k].status if k in notes else "unreviewed" for k in range(self.n_neurons)]
        df["flags"] = [",".join(notes[k].flags) if k in notes else "" for k in range(self.n_neurons)]
        return df

    # ---- bootstrap ensemble ---------------------------------------------------------------------
    def bootstrap(self, neuron: int, *, metric: str, K: int = 100, seed: int = 0, t=None,
                  delta: float = 0.05) -> BEReport:
        """Bootstrap-ensemble report for one neuron (cached per neuron/metric/K/seed/t/δ)."""
        neuron = self._neuron(neuron)
        if metric == "pixel_iou":
            raise WorkspaceError("the bootstrap ensemble runs on image-level metrics, not pixel_iou")
        t_eff = 0.95 * K if t is None else float(t)
        name = f"bootstrap/n{neuron}_{metric}_K{K}_s{seed}_t{t_eff:g}_d{delta:g}.json"
        if self.cache.has(name):
            try:
                return BEReport(**self.cache.read_json(name))
            except (CacheError, TypeError) as err:
                log.warning("%s; recomputing it", err)
        from neurodash.stats import bootstrap as B
        from neurodash.stats import bounds, metrics as M
        if metric not in M.METRICS:
            raise WorkspaceError(f"unknown metric {metric!r}")
        names = self.concept_names
        C = len(names)
        a = np.asarray(self.acts[:, neuron])
        if metric == "soft_wpmi":
            # soft-WPMI's marginal runs over the layer's neurons, so resample the whole layer
            winners = B.bootstrap_winners_many(np.asarray(self.acts), self.concepts, metric, K=K,
                                               seed=seed)[0][neuron]
        else:
            winners = np.asarray(B.bootstrap_winners(a, self.concepts, metric, K=K, seed=seed).winners)
        hist = np.asarray(B.concept_histogram(winners, C))
        pset = [int(i) for i in B.prediction_set(winners, t=t_eff, n_concepts=C)]
        scores = self.metric_matrix(metric)[neuron]
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
        best, second = int(order[0]), int(order[1]) if C > 1 else int(order[0])
        gap = float(scores[best] - scores[second])
        has_rate = self._has_rate(metric)
        p = coverage = math.nan
        note = ""
        if has_rate:
            # p of the plug-in winner: its effective sample size (Table 1) with the plug-in gap Δ
            active = M.binarize(a[:, None], self._alpha(metric))[:, 0]
            present = np.asarray(self.concepts[:, best]) >= 0.5
            p = float(bounds.error_probability(metric, active, present, gap, C))
            # Thm 4.1's k(S) counts the resamples won by a concept in S, not the set's size
            coverage = float(bounds.coverage_lower_bound(K, B.set_count(winners, pset), p))
            note = "Δ is the plug-in gap between the best and second-best concept on the probe."
        else:
            note = f"{metric} has no convergence rate in Table 1: no coverage guarantee."
        vacuous = (not has_rate) or not (p < 1) or not (coverage > 0)
        report = BEReport(
            neuron=neuron, metric=metric, K=int(K), seed=int(seed), t=float(t_eff), delta=float(delta),
            concept_names=names, histogram=[int(x) for x in hist], prediction_set=pset,
            prediction_names=[names[i] for i in pset], stability=float(B.stability(winners)),
            best=best, second=second, gap=gap, p=p, coverage=coverage, vacuous=bool(vacuous),
            has_rate=has_rate, note=note,
        )
        self.cache.write_json(name, report.to_json())
        return report

    # ---- sanity ---------------------------------------------------------------------------------
    def sanity_report(self, *, metrics=None, seed: int = 0) -> pd.DataFrame:
        """NeuronEval missing/extra-labels tests on (neuron, best-IoU concept) pairs of all neurons."""
        from neurodash.stats import metrics as M
        from neurodash.stats import sanity
        metrics = [m for m in (metrics or self.default_metrics()) if m in M.METRICS]
        name = f"sanity/{stable_hash([metrics, seed])[:16]}.json"
        if self.cache.has(name):
            try:
                return pd.DataFrame(**self.cache.read_json(name))
            except (CacheError, TypeError, ValueError) as err:
                log.warning("%s; recomputing it", err)
        pairs = self.ground_truth_pairs()
        df = sanity.sanity_tests(np.asarray(self.acts), self.concepts, pairs, metrics, seed=seed)
        self.cache.write_json(name, df.to_dict(orient="split"))
        return df


def _selectivity(acts: np.ndarray) -> np.ndarray:
    """SIEVE Select statistic per neuron: P99 / median over the probe (sieve.select's rule for a
    non-positive median)."""
    from neurodash.sieve import select
    return np.asarray(select(acts, SELECTIVITY_BETA).ratio, dtype=np.float64)


def list_workspaces(home=None) -> list[Recipe]:
    """Recipes of the computed workspaces under the cache root (newest first)."""
    base = cache_root(home) / "workspaces"
    found = []
    for meta in base.glob("*/meta.json"):
        try:
            import json
            d = json.loads(meta.read_text(encoding="utf-8"))
            found.append((meta.stat().st_mtime, Recipe.from_dict(d["recipe"])))
        except (OSError, ValueError, KeyError, TypeError, WorkspaceError):
            continue
    return [r for _, r in sorted(found, key=lambda x: -x[0])]
