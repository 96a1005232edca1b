"""The Workspace on a small shapes-world probe with a random CNN made in the test."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from neurodash.workspace import BEReport, NeuronCard, Recipe, Workspace, WorkspaceError, list_workspaces

N_PROBE = 160


@pytest.fixture(scope="module")
def built(tmp_path_factory, cnn_weights):
    """One precomputed workspace shared by the read-only tests (home passed explicitly)."""
    home = tmp_path_factory.mktemp("ndhome")
    recipe = Recipe(weights=str(cnn_weights), probe_n=N_PROBE, layer="block3")
    ws = Workspace.open(recipe, home=home)
    seen = []
    ws.precompute(progress=lambda f, m: seen.append((f, m)))
    return ws, home, seen


def test_recipe_key_and_paths(cnn_weights, tmp_path, monkeypatch):
    a = Recipe(weights=str(cnn_weights), probe_n=100)
    monkeypatch.chdir(cnn_weights.parent)
    b = Recipe(weights=cnn_weights.name, probe_n=100)      # relative path, same file
    assert a == b and a.key() == b.key() and a.layer == "block4"
    assert Recipe(weights=str(cnn_weights), probe_n=101).key() != a.key()
    assert Recipe.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(WorkspaceError, match="layer is needed"):
        Recipe(model="resnet18")


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


def test_neuron_card(built):
    ws, _, _ = built
    card = ws.neuron_card(3, metrics=["iou", "pearson", "pixel_iou"], top_concepts=4)
    assert isinstance(card, NeuronCard) and card.hist_counts.sum() == N_PROBE
    iou = card.concepts["iou"]
    assert len(iou) == 4 and [c.score for c in iou] == sorted([c.score for c in iou], reverse=True)
    S = ws.metric_matrix("iou")
    assert iou[0].score == pytest.approx(S[3].max()) and iou[0].band_kind == "table1"
    assert iou[0].band > 0 and iou[0].lo == pytest.approx(max(iou[0].score - iou[0].band / 2, 0.0))
    assert iou[0].hi == pytest.approx(min(iou[0].score + iou[0].band / 2, 1.0))
    p = card.concepts["pearson"][0]
    assert p.band_kind == "empirical" and p.lo <= p.score <= p.hi
    assert card.concepts["pixel_iou"][0].band_kind == "none"
    assert card.ground_truth.concept == ws.concept_names[int(np.argmax(ws.metric_matrix("pixel_iou")[3]))]
    json.dumps(card.to_json())
    with pytest.raises(WorkspaceError, match="outside"):
        ws.neuron_card(128)
    with pytest.raises(WorkspaceError, match="unknown metric"):
        ws.metric_matrix("vibes")


def test_layer_table_and_bootstrap_and_sanity(built):
    ws, _, _ = built
    df = ws.layer_table(metrics=["iou", "recall", "pearson"])
    assert isinstance(df, pd.DataFrame) and len(df) == 128
    assert {"iou_concept", "iou_score", "iou_band", "selectivity", "gt_concept", "status"} <= set(df.columns)
    assert df["iou_band"].notna().all() and df["pearson_band"].isna().all()
    from neurodash.stats import bounds, metrics as M
    k = 11
    best = int(np.argmax(ws.metric_matrix("iou")[k]))
    active = M.binarize(np.asarray(ws.acts[:, [k]]), M.METRICS["iou"].default_alpha)
    band = bounds.band("iou", active, ws.concepts[:, [best]], 0.05, len(ws.concept_names))
    assert df.loc[k, "iou_band"] == pytest.approx(float(np.ravel(band)[0]))

    be = ws.bootstrap(4, metric="iou", K=40, seed=1)
    assert isinstance(be, BEReport) and sum(be.histogram) == 40 and be.K == 40
    assert be.prediction_set and set(be.prediction_names) <= set(ws.concept_names)
    assert 0 <= be.stability <= 1 and be.gap >= 0 and be.vacuous == (not be.p < 1 or be.coverage <= 0)
    files = list((ws.cache.path / "bootstrap").glob("*.json"))
    again = ws.bootstrap(4, metric="iou", K=40, seed=1)
    assert again == be and list((ws.cache.path / "bootstrap").glob("*.json")) == files
    assert ws.bootstrap(4, metric="pearson", K=20).vacuous  # no rate: no coverage guarantee

    sr = ws.sanity_report(metrics=["iou", "recall"])
    assert list(sr.index) == ["iou", "recall"] and {"missing_labels", "extra_labels", "passed"} <= set(sr.columns)
    pd.testing.assert_frame_equal(ws.sanity_report(metrics=["iou", "recall"]), sr, check_names=False)


def test_cache_hit_invalidation_and_recovery(cnn_weights, tmp_path):
    import torch
    from safetensors.torch import save_file
    weights = tmp_path / "w.safetensors"
    shutil.copy(cnn_weights, weights)
    recipe = Recipe(weights=str(weights), probe_n=64)
    ws = Workspace.open(recipe, home=tmp_path / "h")
    ws.precompute()
    ws.annotations.update(2, status="confirmed", note="keep me", add_flags=["stripes"])
    acts_file = ws.cache.path / "acts.npy"
    stamp = acts_file.stat().st_mtime_ns

    # cache hit: a fresh open is ready and precompute does nothing
    again = Workspace.open(recipe, home=tmp_path / "h")
    assert again.is_ready()
    msgs = []
    again.precompute(progress=lambda f, m: msgs.append(m))
    assert msgs == ["cache ready"] and acts_file.stat().st_mtime_ns == stamp

    # truncated file: not trusted, recomputed, and says so
    acts_file.write_bytes(acts_file.read_bytes()[:-100])
    broken = Workspace.open(recipe, home=tmp_path / "h")
    assert not broken.is_ready() and "acts.npy" in broken.stale_reason
    msgs = []
    broken.precompute(progress=lambda f, m: msgs.append(m))
    assert msgs[0].startswith("recomputing") and broken.is_ready()
    np.testing.assert_array_equal(broken.acts, ws.acts)

    # new weights in the same file: fingerprint mismatch -> recompute; annotations survive
    torch.manual_seed(5)
    from neurodash import world
    from neurodash.world import cnn
    save_file(cnn.ShapesCNN(len(world.vocabulary())).state_dict(), str(weights))
    changed = Workspace.open(recipe, home=tmp_path / "h")
    assert not changed.is_ready() and "changed" in changed.stale_reason
    changed.precompute()
    assert not np.allclose(changed.acts, ws.acts)
    note = changed.annotations.get(2)
    assert note.status == "confirmed" and note.note == "keep me" and note.flags == ("stripes",)
    assert changed.layer_table(metrics=["iou"]).loc[2, "status"] == "confirmed"


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
    ws.precompute()
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
    ws.precompute()
    c = ws.concepts
    assert c.shape == (48, 4) and c.dtype == np.float32
    np.testing.assert_allclose(c.sum(1), 1, atol=2e-3)          # CLIP-Dissect softmax(10·cos)
    assert not ws.has_ground_truth and not ws.has_masks and ws.concept_names[0] == "red circle"
    card = ws.neuron_card(0, metrics=["auroc", "spearman"])
    assert card.ground_truth is None and len(card.concepts["auroc"]) == 4
    assert card.concepts["spearman"][0].band_kind == "empirical"
    sig = Workspace.open(replace(recipe, clip_mode="sigmoid"), home=tmp_path / "h")
    assert sig.recipe.key() != recipe.key()


def test_not_ready_workspace_says_what_to_do(cnn_weights, tmp_path):
    ws = Workspace.open(Recipe(weights=str(cnn_weights), probe_n=10), home=tmp_path)
    with pytest.raises(WorkspaceError, match="precompute"):
        ws.neuron_card(0)
