"""One workspace per Recipe: its cache, opened and checked, and the arrays in it.

The cache directory is ``<root>/workspaces/<recipe.key()>``; ``meta.json`` records the fingerprint
(`neurodash.fingerprint`) and a cache whose fingerprint or manifest does not match is recomputed
(`neurodash.precompute`), with the reason in ``stale_reason``. Annotations are keyed by the recipe
too but live in ``<root>/annotations/``: a recompute keeps them.

A Workspace answers for its arrays (activations, concepts, top images, thresholds, selectivity),
runs new images through its model (``forward``) and keeps metric matrices. Everything built on top
(neuron cards, bands, BE, layer table, sanity) lives in `neurodash.analysis`, over the
`neurodash.protocol.WorkspaceView` protocol that this class satisfies.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from filelock import FileLock

from neurodash import cache as cache_mod
from neurodash.annotations import Annotations
from neurodash.cache import CacheDir, CacheError, cache_root
from neurodash.fingerprint import fingerprint
from neurodash.recipe import Recipe, RecipeError
from neurodash.stats import metrics as M

log = logging.getLogger("neurodash")

DEFAULT_METRICS = ("iou", "recall", "precision", "auroc", "pearson")
TOP_K = 20
CORE_FILES = ("acts.npy", "concepts.npy", "topk_ids.npy", "topk_acts.npy", "topk_maps.npy",
              "top1_threshold.npy", "selectivity.npy")
MASK_FILES = ("pixel_threshold.npy", "metrics/pixel_iou.npy")  # core too when the probe has masks


class WorkspaceError(RuntimeError):
    """The workspace cannot answer (not precomputed, bad neuron index, unknown metric...)."""


class Workspace:
    """A workspace's cache and model. Open with ``Workspace.open(recipe)``; build its cache with
    ``neurodash.precompute.precompute(ws)``."""

    def __init__(self, recipe: Recipe, root: Path):
        self.recipe = recipe
        self.root = root
        self.cache = CacheDir(root / "workspaces" / recipe.key())
        self.annotations = Annotations(root / "annotations" / f"{recipe.key()}.json")
        # lock files live apart, so a failed build leaves no trace under workspaces/
        self.lock = FileLock(str(root / "locks" / f"{recipe.key()}.lock"), timeout=-1)
        self._meta: dict | None = None
        self._fingerprint: str | None = None
        self._loaded = None
        self._reader = None
        self._probe = None
        self._arrays: dict[str, np.ndarray] = {}
        self.stale_reason: str | None = None  # why an existing cache is being recomputed

    # ---- opening and checking -------------------------------------------------------------------
    @classmethod
    def open(cls, recipe: Recipe | None = None, *, home=None) -> "Workspace":
        ws = cls(recipe or Recipe.default(), cache_root(home))
        ws.check()
        return ws

    def check(self) -> None:
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
        if not isinstance(meta, dict):
            self.stale_reason = "meta.json is not an object"
            return
        core = CORE_FILES + (MASK_FILES if meta.get("has_masks") else ())
        problems = self.cache.problems(required=core, only=core)
        if meta.get("fingerprint") != self.fingerprint(meta):
            problems.insert(0, "weights, probe or concepts changed since it was computed")
        if problems:
            self.stale_reason = "; ".join(problems[:3])
            log.warning("cache %s does not match (%s): it will be recomputed", self.cache.path,
                        self.stale_reason)
            return
        self._meta, self.stale_reason = meta, None

    def fingerprint(self, meta: dict | None = None) -> str:
        """The hash meta.json must hold for the cache to be trusted (computed once per object)."""
        if self._fingerprint is None:
            memo = cache_mod.hash_memo(self.root)
            self._fingerprint = fingerprint(self.recipe, self.root,
                                            self.make_probe(meta).listing_hash(memo=memo),
                                            self.concept_set_names())
        return self._fingerprint

    def forget(self) -> None:
        """Drop what was derived from the old cache (before a recompute)."""
        self._probe = self._fingerprint = None
        self._meta, self._arrays = None, {}

    def concept_set_names(self) -> list[str]:
        from neurodash.concepts import concept_set
        return concept_set(self.recipe.concept_set)

    def make_probe(self, meta: dict | None = None, progress=None):
        """The recipe's probe (a folder probe keeps the file list recorded in meta)."""
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

    @property
    def version(self) -> str:
        """Identifies the cache's contents (recipe, fingerprint, build time): what the UI's caches
        are keyed on, so a rebuild by another process is never served stale."""
        meta = self.meta
        return f"{self.recipe.key()}:{str(meta.get('fingerprint'))[:16]}:{meta.get('created', '')}"

    def changed_on_disk(self) -> bool:
        """True when another process built, rebuilt or removed this cache since it was checked."""
        try:
            d = json.loads((self.cache.path / cache_mod.META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self._meta is not None
        if self._meta is None:
            return True
        keys = ("fingerprint", "created")
        return tuple(d.get(k) for k in keys) != tuple(self._meta.get(k) for k in keys)

    def _need_ready(self) -> dict:
        if self._meta is None:
            raise WorkspaceError(f"workspace {self.recipe.label()} is not computed yet: run "
                                 "`python -m neurodash precompute`")
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

    @property
    def clip_key(self) -> str:
        """Identifies `clip()` without loading it (SIEVE's cache keys)."""
        from neurodash.concepts import clip_key
        src = self.recipe.concept_source
        return clip_key(src, self.recipe.clip_weights) if src.startswith("open_clip:") else clip_key()

    def clip(self):
        """The CLIP that names this workspace's concepts: the open_clip model of an open_clip
        concept source, else the shipped tiny CLIP (the shapes world's)."""
        from neurodash.concepts import clip_for_source
        src = self.recipe.concept_source
        if src.startswith("open_clip:"):
            return clip_for_source(src, self.recipe.clip_weights)
        return clip_for_source("clip", None)

    # ---- arrays ---------------------------------------------------------------------------------
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
        return self.make_probe(self.meta)

    def default_metrics(self) -> list[str]:
        return list(DEFAULT_METRICS) + (["pixel_iou"] if self.has_masks else [])

    def neuron(self, neuron: int) -> int:
        """The neuron index, checked against the layer."""
        neuron = int(neuron)
        if not 0 <= neuron < self.n_neurons:
            raise WorkspaceError(f"neuron {neuron} is outside this layer (0..{self.n_neurons - 1})")
        return neuron

    def images(self, ids) -> np.ndarray:
        return self.probe.images(ids)

    def top_images(self, neuron: int, k: int = 20):
        """(ids int64 (k,), acts float32 (k,), maps float32 (k,h,w)) best first; k ≤ TOP_K."""
        neuron = self.neuron(neuron)
        k = min(int(k), self._array("topk_ids.npy").shape[1])
        return (self._array("topk_ids.npy")[neuron, :k].copy(),
                self._array("topk_acts.npy")[neuron, :k].copy(),
                self._array("topk_maps.npy", mmap=True)[neuron, :k].astype(np.float32))

    def top1_threshold(self) -> np.ndarray:
        return self._array("top1_threshold.npy")

    def selectivity(self) -> np.ndarray:
        return self._array("selectivity.npy")

    # ---- metric matrices ------------------------------------------------------------------------
    def metric_matrix(self, metric: str, alpha: float | None = None) -> np.ndarray:
        """float (N,C) scores of every neuron against every concept; computed once, cached on disk."""
        if metric == "pixel_iou":
            if not self.has_masks:
                raise WorkspaceError("pixel_iou needs a probe with concept masks (the shapes world "
                                     "with ground-truth concepts)")
            return self._array("metrics/pixel_iou.npy")
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
                self.cache.recomputed(name, err)
        scores = np.asarray(M.similarity(np.asarray(self.acts), self.concepts, M.METRICS[metric],
                                         alpha=alpha), dtype=np.float64)
        self.cache.write_array(name, scores)
        self._arrays[name] = scores
        return scores


def list_workspaces(home=None) -> list[Recipe]:
    """Recipes of the computed workspaces under the cache root (newest first)."""
    base = cache_root(home) / "workspaces"
    found = []
    for meta in base.glob("*/meta.json"):
        try:
            d = json.loads(meta.read_text(encoding="utf-8"))
            found.append((meta.stat().st_mtime, Recipe.from_dict(d["recipe"])))
        except (OSError, ValueError, KeyError, TypeError, RecipeError):
            continue
    return [r for _, r in sorted(found, key=lambda x: -x[0])]
