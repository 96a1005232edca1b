"""Build a workspace's cache from nothing: activations, top images, thresholds, selectivity,
concept activations, pixel IoU, then the default metric matrices.

Writes are atomic per file and ``meta.json`` is written last (the commit marker), under the
workspace's file lock, so two processes never build the same cache at once and a cut-off build is
never mistaken for a finished one.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np

from neurodash import cache as cache_mod
from neurodash import concepts as concepts_mod
from neurodash import extract as extract_mod
from neurodash import shards as shards_mod
from neurodash.cache import CacheError
from neurodash.progress import Progress, report, span
from neurodash.sieve.select import select
from neurodash.workspace import TOP_K, Workspace


def precompute(ws: Workspace, progress: Progress | None = None, cancel=None, *, batch: int = 64,
               runner=None, shards: int = 4):
    """Compute everything the neuron and layer pages need; a no-op when the cache is ready.

    With a ``runner`` (`neurodash.shards.InProcessRunner`, `neurodash.ray_engine.RayRunner`) the
    probe is split into ``shards`` that run there and merge into the same cache, resumably; the
    return value is then the `shards.ShardedResult` (what ran, what came from the store), else None."""
    with ws.lock:
        ws.check()  # another process may have finished it while we waited
        if ws.is_ready():
            report(progress, 1.0, "cache ready")
            return
        if ws.stale_reason:
            report(progress, 0.0, f"recomputing: the cache did not match ({ws.stale_reason})")
        t0 = time.perf_counter()
        try:
            sharded = _build(ws, progress, cancel, batch, runner, shards)
        except BaseException:
            ws.cache.remove()  # a failed or cancelled build leaves nothing behind
            ws.forget()
            raise
        ws.check()
        if not ws.is_ready():
            raise CacheError(f"cache {ws.cache.path} failed its own check after writing: "
                             f"{ws.stale_reason}")
        for i, m in enumerate(ws.default_metrics()):  # so the first page view does not wait
            report(progress, 0.96 + 0.04 * i / len(ws.default_metrics()), f"metric {m}")
            if m != "pixel_iou":
                ws.metric_matrix(m)
        report(progress, 1.0, f"done in {time.perf_counter() - t0:.1f} s")
        return sharded


def selectivity(acts: np.ndarray) -> np.ndarray:
    """SIEVE Select statistic per neuron: P99 / median over the probe (sieve.select's rule for a
    non-positive median)."""
    return np.asarray(select(acts).ratio, dtype=np.float64)


def _build(ws: Workspace, progress, cancel, batch: int, runner=None, shards: int = 4):
    ws.forget()
    report(progress, 0.01, f"loading {ws.recipe.model}")
    # every input is read (and refused, with its message) before the old cache is touched
    reader = ws.reader
    probe = ws.make_probe(progress=span(progress, 0.02, 0.05))
    fingerprint = ws.fingerprint()
    n = len(probe)
    names = ws.concept_set_names()
    ws.cache.clear()
    n_neurons, map_shape = extract_mod.probe_shape(reader, probe)
    # pixel IoU's columns are the probe's mask channels: only when they are the concepts, in order
    with_masks = (probe.has_masks and ws.recipe.concept_source == "ground_truth"
                  and names == list(probe.label_names))

    sharded = None
    job = None if runner is None else shard_job(ws, probe, names, n_neurons, with_masks, batch, fingerprint)
    maps_file = ws.cache.path / ".maps.tmp.npy"  # all maps, only while pixel IoU needs them
    maps = (extract_mod.SpillFile(maps_file, n, (n_neurons, *map_shape))
            if with_masks and job is None else None)
    try:
        with ws.cache.stream_array("acts.npy", (n, n_neurons), np.float32) as acts:
            if job is not None:
                sharded = shards_mod.run(job, acts, runner, ws.root / "shards", shards=shards,
                                         cancel=cancel, progress=span(progress, 0.05, 0.8))
                ex = sharded.extraction
            else:
                ex = extract_mod.extract(reader, probe, acts, k=TOP_K, batch=batch,
                                         pixel_threshold=with_masks, maps_out=maps, cancel=cancel,
                                         progress=span(progress, 0.05, 0.65))
            top1 = extract_mod.top_fraction_threshold(acts, 0.01)
            select_ratio = selectivity(acts)
        ws.cache.write_array("topk_ids.npy", ex.topk_ids)
        ws.cache.write_array("topk_acts.npy", ex.topk_acts)
        ws.cache.write_array("topk_maps.npy", ex.topk_maps)
        ws.cache.write_array("top1_threshold.npy", top1)
        ws.cache.write_array("selectivity.npy", select_ratio)

        src = ws.recipe.concept_source
        if src == "ground_truth":
            report(progress, 0.66, "ground-truth concept labels")
            conc = concepts_mod.ground_truth(probe, names)
        elif sharded is not None:
            conc = concepts_mod.clip_activations(sharded.cos, ws.recipe.clip_mode).astype(np.float16)
        else:
            model, tokenizer = concepts_mod.load_clip_source(src, ws.recipe.clip_weights)
            scorer = concepts_mod.ClipScorer(model, tokenizer)
            conc = concepts_mod.clip_concepts(probe, names, scorer, mode=ws.recipe.clip_mode,
                                              progress=span(progress, 0.66, 0.8))
            conc = conc.astype(np.float16)
        ws.cache.write_array("concepts.npy", conc)

        if with_masks:
            iou = sharded.pixel_iou if sharded is not None else extract_mod.pixel_iou(
                maps, probe, ex.pixel_threshold, cancel=cancel, device=ws.loaded.device,
                progress=span(progress, 0.8, 0.95))
            ws.cache.write_array("pixel_threshold.npy", ex.pixel_threshold)
            ws.cache.write_array("metrics/pixel_iou.npy", iou.astype(np.float32))
    finally:
        if maps is not None:
            maps.close()
            maps_file.unlink(missing_ok=True)

    meta = {
        "recipe": ws.recipe.to_dict(), "fingerprint": fingerprint,
        "format_version": cache_mod.FORMAT_VERSION,
        # microseconds: two rebuilds within one second must differ (Workspace.changed_on_disk)
        "created": datetime.now(timezone.utc).astimezone().isoformat(timespec="microseconds"),
        "n_images": n, "n_neurons": int(n_neurons), "map_shape": list(map_shape),
        "concept_names": names, "has_masks": bool(with_masks),
        "probe_image_size": int(getattr(probe, "size", 64)),
        "files": getattr(probe, "files", None),
        "probe_report": probe.report.summary() if hasattr(probe, "report") else "",
        "device": str(ws.loaded.device),
    }
    ws.cache.write_json(cache_mod.META, meta)  # written last: the commit marker
    if job is not None:
        shards_mod.forget(ws.root / "shards", job)  # merged and committed: the shards can go
    return sharded


def shard_job(ws: Workspace, probe, names, n_neurons, with_masks, batch, fingerprint):
    """What every shard of this workspace needs (`neurodash.shards.ShardJob`): the recipe's model
    and probe, and the concepts' text embeddings, computed once here for all shards."""
    r = ws.recipe
    text = None
    if r.concept_source != "ground_truth":
        model, tokenizer = concepts_mod.load_clip_source(r.concept_source, r.clip_weights)
        text = concepts_mod.ClipScorer(model, tokenizer).encode_texts(names)
    return shards_mod.ShardJob(
        key=fingerprint, model=r.model, weights=r.weights, arch=r.arch, layer=r.layer,
        pooling=r.pooling, n=len(probe), n_neurons=int(n_neurons), k=TOP_K, batch=batch,
        probe=dict(spec=r.probe, n=r.probe_n, seed=r.probe_seed, size=int(getattr(probe, "size", 64)),
                   labels_csv=r.labels_csv, files=getattr(probe, "files", None)),
        with_masks=bool(with_masks), text=text,
        clip_source=None if r.concept_source == "ground_truth" else r.concept_source,
        clip_weights=r.clip_weights)
