"""Precompute in shards: ranges of the probe that run anywhere (this process, Ray workers) and merge
into exactly the single-process result.

Exactness, piece by piece:
- shard boundaries are multiples of the extraction batch and of the CLIP batch, so every forward
  pass sees the very batches a single pass over the probe sees (same inputs, same numbers);
- activations and CLIP cosines are rows: shards fill disjoint rows;
- the running top-k is ordered by (activation desc, image id asc) (extract.TopK), so merging the
  shards' top-k lists in id order reproduces the single pass, ties included;
- NetDissect's pixel threshold is the q-th largest map value over the probe: the q largest of each
  shard contain the q largest overall;
- pixel IoU is a ratio of integer counts (extract.PixelIoUCounts): shards count with the merged
  threshold in a second round, counts add up exactly;
- CLIP's softmax/sigmoid activations and everything derived from the activations (top-1% threshold,
  selectivity, metric matrices) are computed after the merge by the single-process code.

Resuming: each finished shard is written to ``store/<lo>-<hi>/`` (a checksummed CacheDir under the
cache root, keyed by the workspace fingerprint and the batch sizes) before the next is awaited, so a
run killed or cancelled half-way recomputes only the shards that had not come back.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from neurodash.cache import CacheDir, stable_hash
from neurodash.progress import Cancelled, report

CLIP_BATCH = 128
DONE = "done.json"
IOU_DONE = "iou_done.json"


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to compute any shard of one workspace (picklable, no live objects)."""
    key: str                      # the workspace fingerprint
    model: str
    weights: str | None
    arch: str | None
    layer: str
    pooling: str
    probe: dict                   # neurodash.probes.make_probe keyword arguments
    n: int                        # probe size
    n_neurons: int
    k: int
    batch: int
    with_masks: bool = False
    clip_source: str | None = None
    clip_weights: str | None = None
    text: np.ndarray | None = field(default=None, compare=False)  # (C,D) concept text embeddings

    @property
    def align(self) -> int:
        return math.lcm(self.batch, CLIP_BATCH) if self.clip_source else self.batch

    def store_key(self) -> str:
        return stable_hash({"fingerprint": self.key, "batch": self.batch, "k": self.k,
                            "clip_batch": CLIP_BATCH if self.clip_source else None,
                            "masks": self.with_masks})[:24]


def plan(n: int, shards: int, align: int) -> list[tuple[int, int]]:
    """About ``shards`` consecutive ranges covering 0..n, each starting on a multiple of ``align``."""
    if n < 1:
        raise ValueError("an empty probe has no shards")
    size = max(align, math.ceil(math.ceil(n / max(1, shards)) / align) * align)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


# ---- worker side ----------------------------------------------------------------------------------

_CONTEXT: dict[str, tuple] = {}  # per process: job key -> (reader, probe, scorer); workers are reused


def _context(job: ShardJob):
    if job.key not in _CONTEXT:
        from neurodash.models import LayerReader, load_model
        from neurodash.probes import make_probe
        loaded = load_model(job.model, weights=job.weights, arch=job.arch)
        reader = LayerReader(loaded, job.layer, job.pooling)
        probe = make_probe(**job.probe)
        scorer = None
        if job.clip_source:
            from neurodash.concepts import ClipScorer, load_clip_source
            scorer = ClipScorer(*load_clip_source(job.clip_source, job.clip_weights))
        _CONTEXT.clear()  # one workspace at a time per worker: free the previous model
        _CONTEXT[job.key] = (reader, probe, scorer)
    return _CONTEXT[job.key]


def extract_shard(job: ShardJob, lo: int, hi: int) -> dict[str, np.ndarray]:
    """Activations, top-k (and top map values, CLIP cosines) of probe images lo..hi-1."""
    from neurodash.concepts import clip_cosines
    from neurodash.extract import extract
    reader, probe, scorer = _context(job)
    acts = np.zeros((hi - lo, job.n_neurons), np.float32)
    ex = extract(reader, probe, acts, k=job.k, batch=job.batch, pixel_threshold=job.with_masks,
                 start=lo)
    out = {"acts": acts, "topk_ids": ex.topk_ids, "topk_acts": ex.topk_acts, "topk_maps": ex.topk_maps}
    if ex.top_values is not None:
        out["top_values"] = ex.top_values
    if scorer is not None:
        out["cos"] = clip_cosines(probe, job.text, scorer, batch=CLIP_BATCH, start=lo, stop=hi)
    return out


def iou_shard(job: ShardJob, lo: int, hi: int, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """NetDissect pixel-IoU counts of images lo..hi-1 at the merged thresholds. Maps come from the
    same batches as extraction's; masks may come in smaller chunks (counts add up the same)."""
    from neurodash.extract import PixelIoUCounts
    reader, probe, _ = _context(job)
    acc = PixelIoUCounts(thresholds, reader.loaded.device)
    for first, images in probe.chunks(job.batch, start=lo, stop=hi):
        _, maps = reader.read(reader.loaded.to_input(images))
        for start, _i, _l, masks in probe.chunks(job.batch, masks=True, start=first,
                                                 stop=first + len(images), images=False):
            acc.add(maps[start - first:start - first + len(masks)], masks)
    inter, on, present = acc.counts()
    return {"inter": inter, "on": on, "present": present}


# ---- where shards run -----------------------------------------------------------------------------

class Runner(Protocol):
    """Runs ``fn(job, *args)`` for each args tuple; yields (index, result) as each one finishes."""

    def run(self, fn: Callable, job: ShardJob, calls: list[tuple], *,
            cancel=None) -> Iterator[tuple[int, dict]]: ...

    def stop(self) -> None: ...


class InProcessRunner:
    """Shards one after another in this process (the reference the Ray engine is checked against)."""

    def run(self, fn, job, calls, *, cancel=None):
        for i, args in enumerate(calls):
            yield i, fn(job, *args)

    def stop(self) -> None:
        pass


# ---- the driver -----------------------------------------------------------------------------------

@dataclass
class ShardedResult:
    extraction: object            # extract.Extraction of the whole probe
    cos: np.ndarray | None        # float32 (n,C) CLIP cosines, or None
    pixel_iou: np.ndarray | None  # float64 (N,C), or None
    computed: dict[str, list]     # per round ("extract", "iou"): shards computed in this run
                                  # (the others came from the store)
    ranges: list[tuple[int, int]] = field(default_factory=list)  # every shard


def _done(d: CacheDir, marker: str, names: Iterable[str]) -> bool:
    return (d.path / marker).exists() and not d.problems(required=tuple(names) + (marker,))


def run(job: ShardJob, acts_out: np.ndarray, runner: Runner, store: Path, *, shards: int = 4,
        progress=None, cancel=None) -> ShardedResult:
    """Compute every shard not already in ``store``, writing each as it finishes, then merge."""
    from neurodash.extract import Extraction, iou_from_counts, merge_thresholds, merge_topk, \
        pixel_quantile_count
    store = Path(store) / job.store_key()
    ranges = plan(job.n, shards, job.align)
    dirs = [CacheDir(store / f"{lo:09d}-{hi:09d}") for lo, hi in ranges]
    names = ["acts.npy", "topk_ids.npy", "topk_acts.npy", "topk_maps.npy"]
    names += ["top_values.npy"] if job.with_masks else []
    names += ["cos.npy"] if job.clip_source else []

    def gather(fn, marker, files, extra=()):
        todo = [i for i, d in enumerate(dirs) if not _done(d, marker, files)]
        if marker == DONE:
            for i in todo:
                dirs[i].clear()  # a half-written shard starts afresh
        done = len(dirs) - len(todo)
        calls = [(ranges[i][0], ranges[i][1], *extra) for i in todo]
        try:
            for j, res in runner.run(fn, job, calls, cancel=cancel):
                d = dirs[todo[j]]
                for name, arr in res.items():
                    d.write_array(f"{name}.npy", arr)
                d.write_json(marker, {"range": list(ranges[todo[j]]), "job": job.key})
                done += 1
                report(progress, done / len(dirs), f"{fn.__name__}: {done}/{len(dirs)} shards")
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"stopped after {done} of {len(dirs)} shards; rerun to resume")
        finally:
            runner.stop()
        return [ranges[i] for i in todo]

    computed = {"extract": gather(extract_shard, DONE, names), "iou": []}
    parts = []
    for (lo, hi), d in zip(ranges, dirs):
        acts_out[lo:hi] = d.read_array("acts.npy", mmap=True)
        parts.append(Extraction(topk_ids=d.read_array("topk_ids.npy"),
                                topk_acts=d.read_array("topk_acts.npy"),
                                topk_maps=d.read_array("topk_maps.npy"), pixel_threshold=None))
    ids, top_acts, maps = merge_topk(parts, min(job.k, job.n))
    ex = Extraction(topk_ids=ids, topk_acts=top_acts, topk_maps=maps, pixel_threshold=None)
    cos = np.concatenate([d.read_array("cos.npy") for d in dirs]) if job.clip_source else None
    iou = None
    if job.with_masks:
        map_shape = parts[0].topk_maps.shape[2:]
        q = pixel_quantile_count(job.n, map_shape)
        ex.pixel_threshold, ex.top_values = merge_thresholds(
            [d.read_array("top_values.npy") for d in dirs], q)
        iou_files = ["inter.npy", "on.npy", "present.npy"]
        computed["iou"] = gather(iou_shard, IOU_DONE, iou_files, (ex.pixel_threshold,))
        counts = [sum(d.read_array(f) for d in dirs) for f in iou_files]
        iou = iou_from_counts(*counts)
    return ShardedResult(ex, cos, iou, computed, ranges)


def forget(store: Path, job: ShardJob) -> None:
    """Drop a job's shards once their merge is safely in the workspace cache."""
    shutil.rmtree(Path(store) / job.store_key(), ignore_errors=True)

