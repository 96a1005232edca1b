"""Sharded precompute == single-process precompute, file for file, bit for bit; resumable."""
import threading

import numpy as np
import pytest

from neurodash import shards
from neurodash.precompute import precompute
from neurodash.progress import Cancelled
from neurodash.recipe import Recipe
from neurodash.workspace import Workspace
from tests.cache_compare import assert_same_cache


def test_plan_aligns_and_covers():
    assert shards.plan(300, 3, 64) == [(0, 128), (128, 256), (256, 300)]
    assert shards.plan(100, 8, 64) == [(0, 64), (64, 100)]
    ranges = shards.plan(1000, 7, 128)
    assert ranges[0][0] == 0 and ranges[-1][1] == 1000
    assert all(lo % 128 == 0 for lo, _ in ranges) and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_topk_ties_break_by_id_in_any_split():
    """A layer full of exact ties (ReLU zeros): the merged top-k equals the single pass's."""
    import torch

    from neurodash.extract import Extraction, TopK, merge_topk
    rng = np.random.default_rng(0)
    pooled = np.maximum(rng.normal(size=(50, 6)), 0).astype(np.float32)   # half the values are 0
    pooled[:, 0] = 0                                                     # a dead neuron: all ties
    maps = torch.from_numpy(rng.normal(size=(50, 6, 2, 2)).astype(np.float32))
    whole = TopK(6, 10, (2, 2), "cpu")
    for s in range(0, 50, 5):
        whole.add(torch.from_numpy(pooled[s:s + 5]), maps[s:s + 5], s)
    assert whole.ids[0].tolist() == list(range(10))                      # ties: smallest ids first
    parts = []
    for lo, hi in [(0, 15), (15, 20), (20, 50)]:
        t = TopK(6, 10, (2, 2), "cpu")
        for s in range(lo, hi, 5):
            t.add(torch.from_numpy(pooled[s:s + 5]), maps[s:s + 5], s)
        parts.append(Extraction(t.ids.numpy(), t.vals.numpy(), t.maps.numpy().astype(np.float16), None))
    ids, vals, mp = merge_topk(parts, 10)
    np.testing.assert_array_equal(ids, whole.ids.numpy())
    np.testing.assert_array_equal(vals, whole.vals.numpy())
    np.testing.assert_array_equal(mp, whole.maps.numpy().astype(np.float16))


@pytest.mark.parametrize("source", ["ground_truth", "clip"])
def test_in_process_shards_equal_single_process(tmp_path, cnn_weights, source):
    recipe = Recipe(weights=str(cnn_weights), probe_n=300, concept_source=source)
    single = Workspace.open(recipe, home=tmp_path / "single")
    precompute(single)
    sharded = Workspace.open(recipe, home=tmp_path / "sharded")
    done = precompute(sharded, runner=shards.InProcessRunner(), shards=3)
    ranges = shards.plan(300, 3, 128 if source == "clip" else 64)
    assert done.computed == {"extract": ranges,
                                             "iou": ranges if source == "ground_truth" else []}
    assert_same_cache(single, sharded)
    if source == "ground_truth":
        assert (single.cache.path / "metrics" / "pixel_iou.npy").exists()
    assert not list((tmp_path / "sharded" / "shards").glob("*/*"))       # merged: shards dropped


def test_cancelled_run_resumes_without_recomputing(tmp_path, cnn_weights):
    recipe = Recipe(weights=str(cnn_weights), probe_n=300)
    ws = Workspace.open(recipe, home=tmp_path)
    stop = threading.Event()

    def progress(fraction, message):
        if message.startswith("extract_shard: 1/"):
            stop.set()  # the first shard is in the store: stop there, as a killed run would
    with pytest.raises(Cancelled, match="rerun to resume"):
        precompute(ws, progress, stop, runner=shards.InProcessRunner(), shards=3)
    assert not ws.is_ready()
    ws = Workspace.open(recipe, home=tmp_path)
    done = precompute(ws, runner=shards.InProcessRunner(), shards=3)
    # (0, 128) came from the store; pixel IoU needs every shard's maps at the merged threshold
    assert done.computed == {"extract": [(128, 256), (256, 300)],
                                        "iou": [(0, 128), (128, 256), (256, 300)]}
    single = Workspace.open(recipe, home=tmp_path / "single")
    precompute(single)
    assert_same_cache(single, ws)


def test_shards_on_broden_equal_single_process(tmp_path, cnn_weights, monkeypatch):
    """Real segmentations: pixel IoU from shards (merged thresholds, masks in chunks smaller than
    the extraction batch) is bit-identical."""
    from tests.broden_fixture import write_broden

    from neurodash import broden
    monkeypatch.setattr(broden, "MASK_BUDGET", 8 * 16 * 16)  # one image's masks per chunk
    root, _ = write_broden(tmp_path / "broden")
    recipe = Recipe(weights=str(cnn_weights), probe=str(root), concept_set=f"broden:{root}")
    single = Workspace.open(recipe, home=tmp_path / "single")
    precompute(single, batch=2)
    sharded = Workspace.open(recipe, home=tmp_path / "sharded")
    done = precompute(sharded, batch=2, runner=shards.InProcessRunner(), shards=3)
    assert done.computed["iou"] == [(0, 2), (2, 4), (4, 5)]
    assert len(list(broden.BrodenProbe(root, 64).chunks(2, masks=True))) == 5
    assert single.has_masks
    assert_same_cache(single, sharded)
