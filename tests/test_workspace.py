"""The Workspace on a small shapes-world probe with a random CNN made in the test."""
import shutil
from dataclasses import replace

import numpy as np
import pytest

from neurodash import analysis
from neurodash.precompute import precompute
from neurodash.recipe import Recipe
from neurodash.workspace import Workspace, WorkspaceError, list_workspaces
from tests.helpers import BUILT_PROBE_N as N_PROBE


def test_precompute_builds_everything(built):
    ws, home, seen = built
    assert ws.is_ready() and ws.stale_reason is None
    fr = [f for f, _ in seen]
    assert fr == sorted(fr) and fr[-1] == 1.0 and all(0 <= f <= 1 for f in fr)
    assert ws.n_images == N_PROBE and ws.n_neurons == 128 and ws.acts.shape == (N_PROBE, 128)
    assert isinstance(ws.acts, np.memmap)
    from neurodash import world
    assert ws.concept_names == list(world.vocabulary()) and ws.concepts.dtype == bool
    np.testing.assert_array_equal(ws.concepts, world.sample(N_PROBE, 0, masks=False)[1])
    # acts agree with a fresh forward pass (the streamed file is the real thing)
    imgs = ws.images([0, 7, 159])
    acts, maps = ws.forward(imgs)
    np.testing.assert_allclose(ws.acts[[0, 7, 159]], acts, rtol=1e-4, atol=1e-5)
    assert maps.shape == (3, 128, 16, 16)
    ids, a, m = ws.top_images(9, 20)
    assert ids.shape == (20,) and m.shape == (20, 16, 16) and (np.diff(a) <= 0).all()
    np.testing.assert_allclose(a[0], ws.acts[:, 9].max(), rtol=1e-6)
    thr = ws.top1_threshold()
    assert thr.shape == (128,) and np.allclose(thr, -np.sort(-np.asarray(ws.acts), axis=0)[1])
    assert ws.selectivity().shape == (128,)
    assert [r.key() for r in list_workspaces(home)] == [ws.recipe.key()]
    assert not list((ws.cache.path).glob(".maps*"))  # temporary full maps are gone


def test_cache_hit_invalidation_and_recovery(cnn_weights, tmp_path):
    import torch
    from safetensors.torch import save_file
    weights = tmp_path / "w.safetensors"
    shutil.copy(cnn_weights, weights)
    recipe = Recipe(weights=str(weights), probe_n=64)
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    ws.annotations.update(2, status="confirmed", note="keep me", add_flags=["stripes"])
    acts_file = ws.cache.path / "acts.npy"
    stamp = acts_file.stat().st_mtime_ns
    before = np.array(ws.acts)  # a copy: the test below truncates the file in place

    # cache hit: a fresh open is ready and precompute does nothing
    again = Workspace.open(recipe, home=tmp_path / "h")
    assert again.is_ready()
    msgs = []
    precompute(again, progress=lambda f, m: msgs.append(m))
    assert msgs == ["cache ready"] and acts_file.stat().st_mtime_ns == stamp

    # truncated file: not trusted, recomputed, and says so
    acts_file.write_bytes(acts_file.read_bytes()[:-100])
    broken = Workspace.open(recipe, home=tmp_path / "h")
    assert not broken.is_ready() and "acts.npy" in broken.stale_reason
    msgs = []
    precompute(broken, progress=lambda f, m: msgs.append(m))
    assert msgs[0].startswith("recomputing") and broken.is_ready()
    np.testing.assert_array_equal(broken.acts, before)

    # new weights in the same file: fingerprint mismatch -> recompute; annotations survive
    torch.manual_seed(5)
    from neurodash import world
    from neurodash.world import cnn
    save_file(cnn.ShapesCNN(len(world.vocabulary())).state_dict(), str(weights))
    changed = Workspace.open(recipe, home=tmp_path / "h")
    assert not changed.is_ready() and "changed" in changed.stale_reason
    precompute(changed)
    assert not np.allclose(changed.acts, before)
    note = changed.annotations.get(2)
    assert note.status == "confirmed" and note.note == "keep me" and note.flags == ("stripes",)
    assert changed.annotations.all()[2].status == "confirmed"


def test_folder_probe_workspace_invalidates_on_new_file(cnn_weights, tmp_path):
    from PIL import Image
    from neurodash import world
    folder = tmp_path / "imgs"
    folder.mkdir()
    images, labels, _ = world.sample(30, 9, masks=False)
    names = world.vocabulary()
    rows = ["file," + ",".join(names)]
    for i, (im, lab) in enumerate(zip(images, labels)):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
        rows.append(f"{i:03d}.png," + ",".join(str(int(v)) for v in lab))
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    recipe = Recipe(weights=str(cnn_weights), probe=str(folder), labels_csv=str(csv))
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    assert ws.n_images == 30 and "skipped 1" in ws.meta["probe_report"] and not ws.has_masks
    np.testing.assert_array_equal(ws.concepts, labels)
    np.testing.assert_array_equal(ws.images([4]), images[[4]])
    assert "pixel_iou" not in ws.default_metrics()
    assert Workspace.open(recipe, home=tmp_path / "h").is_ready()
    Image.fromarray(images[0]).save(folder / "zz_new.png")
    stale = Workspace.open(recipe, home=tmp_path / "h")
    assert not stale.is_ready() and "changed" in stale.stale_reason


def test_clip_concept_source_workspace(cnn_weights, tiny_clip_files, tmp_path):
    cfg, clip_weights = tiny_clip_files
    concepts = tmp_path / "concepts.txt"
    concepts.write_text("red circle\nblue square\ngreen triangle\nstripes\n")
    recipe = Recipe(weights=str(cnn_weights), probe_n=48, concept_set=str(concepts),
                    concept_source=f"open_clip:{cfg}", clip_weights=str(clip_weights))
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    c = ws.concepts
    assert c.shape == (48, 4) and c.dtype == np.float32
    np.testing.assert_allclose(c.sum(1), 1, atol=2e-3)          # CLIP-Dissect softmax(10·cos)
    assert not ws.has_ground_truth and not ws.has_masks and ws.concept_names[0] == "red circle"
    card = analysis.neuron_card(ws, 0, metrics=["auroc", "spearman"])
    assert card.ground_truth is None and len(card.concepts["auroc"]) == 4
    assert card.concepts["spearman"][0].band_kind == "empirical"
    sig = Workspace.open(replace(recipe, clip_mode="sigmoid"), home=tmp_path / "h")
    assert sig.recipe.key() != recipe.key()


def test_not_ready_workspace_says_what_to_do(cnn_weights, tmp_path):
    ws = Workspace.open(Recipe(weights=str(cnn_weights), probe_n=10), home=tmp_path)
    with pytest.raises(WorkspaceError, match="precompute"):
        analysis.neuron_card(ws, 0)


def test_a_rebuild_by_another_process_is_noticed(cnn_weights, tmp_path):
    recipe = Recipe(weights=str(cnn_weights), probe_n=24)
    ws = Workspace.open(recipe, home=tmp_path)
    assert ws.changed_on_disk() is False  # nothing on disk, nothing loaded
    precompute(ws)
    first = ws.version
    assert not ws.changed_on_disk()
    other = Workspace.open(recipe, home=tmp_path)  # "another process" rebuilds the same cache
    other.cache.clear()
    precompute(other)
    assert ws.changed_on_disk()
    ws.check()
    assert ws.is_ready() and ws.version != first and not ws.changed_on_disk()
