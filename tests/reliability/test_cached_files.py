"""Same-size, same-mtime corruption of every kind of cached file: never served, always recomputed
to the right value, and the recompute is said (stale_reason or ws.cache.notices)."""

import json
import shutil

import numpy as np
import pytest

from neurodash import analysis, sieve
from neurodash.precompute import precompute
from neurodash.recipe import Recipe
from neurodash.workspace import CORE_FILES, DEFAULT_METRICS, MASK_FILES, Workspace
from tests.helpers import StandInWorkspace, corrupt_same_size

N = 64


@pytest.fixture(scope="module")
def template(tmp_path_factory, cnn_weights):
    """A built workspace (world probe with masks) whose home each test copies."""
    home = tmp_path_factory.mktemp("template")
    recipe = Recipe(weights=str(cnn_weights), probe_n=N, layer="block3")
    ws = Workspace.open(recipe, home=home)
    precompute(ws)
    return recipe, home


@pytest.fixture()
def fresh(template, tmp_path):
    """(recipe, home) of a private copy of the built workspace."""
    recipe, home = template
    shutil.copytree(home, tmp_path / "home")
    return recipe, tmp_path / "home"


def _arrays(ws):
    return {name: np.array(ws.cache.read_array(name)) for name in CORE_FILES + MASK_FILES}


@pytest.mark.parametrize("name", CORE_FILES + MASK_FILES + ("meta.json",))
def test_core_file_corruption_is_found_on_open_and_rebuilt(fresh, name):
    recipe, home = fresh
    before = _arrays(Workspace.open(recipe, home=home))
    ws = Workspace.open(recipe, home=home)
    corrupt_same_size(ws.cache.path / name)
    ws = Workspace.open(recipe, home=home)
    assert not ws.is_ready() and name in ws.stale_reason
    msgs = []
    precompute(ws, progress=lambda f, m: msgs.append(m))
    assert any(m.startswith("recomputing") and name in m for m in msgs)
    after = _arrays(ws)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def test_manifest_hash_edit_is_found_on_open(fresh):
    recipe, home = fresh
    ws = Workspace.open(recipe, home=home)
    path = ws.cache.path / "manifest.json"
    text = path.read_text()
    digest = json.loads(text)["acts.npy"]["sha256"]
    swapped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    corrupt = text.replace(digest, swapped)
    assert len(corrupt) == len(text)
    from tests.helpers import keep_stamp
    keep_stamp(path, lambda: path.write_text(corrupt))
    ws = Workspace.open(recipe, home=home)
    assert not ws.is_ready() and "acts.npy checksum mismatch" in ws.stale_reason


@pytest.mark.parametrize("metric", DEFAULT_METRICS)
def test_metric_matrix_corruption_is_recomputed_and_said(fresh, metric):
    recipe, home = fresh
    ws = Workspace.open(recipe, home=home)
    good = np.array(ws.metric_matrix(metric))
    name = f"metrics/{metric}_adefault.npy"
    corrupt_same_size(ws.cache.path / name)
    ws = Workspace.open(recipe, home=home)
    assert ws.is_ready()  # lazily added files are checked when read, not on open
    np.testing.assert_array_equal(ws.metric_matrix(metric), good)
    assert any(name in n and "checksum" in n for n in ws.cache.notices)
    assert ws.cache.problems(only=(name,)) == []  # and the file is good again


def test_bootstrap_json_corruption_is_recomputed(fresh):
    recipe, home = fresh
    ws = Workspace.open(recipe, home=home)
    good = analysis.bootstrap(ws, 3, metric="iou", K=20).to_json()
    (name,) = [n for n in ws.cache.manifest() if n.startswith("bootstrap/")]
    corrupt_same_size(ws.cache.path / name)
    ws = Workspace.open(recipe, home=home)
    assert analysis.bootstrap(ws, 3, metric="iou", K=20).to_json() == good
    assert any(name in n for n in ws.cache.notices)


def test_sanity_json_corruption_is_recomputed(fresh):
    recipe, home = fresh
    ws = Workspace.open(recipe, home=home)
    good = analysis.sanity_report(ws, metrics=["iou", "recall"])
    (name,) = [n for n in ws.cache.manifest() if n.startswith("sanity/")]
    corrupt_same_size(ws.cache.path / name)
    ws = Workspace.open(recipe, home=home)
    again = analysis.sanity_report(ws, metrics=["iou", "recall"])
    assert again.equals(good) and any(name in n for n in ws.cache.notices)


@pytest.mark.parametrize("part", ["acts", "renders", "renders-json"])
def test_sieve_render_files_corruption_is_recomputed(fresh, part):
    recipe, home = fresh
    ws = Workspace.open(recipe, home=home)
    good = sieve.render_activations(ws, "red", generator=sieve.as_generator("world"), m=4)
    names = {("acts" if n.startswith("sieve/acts/") else "renders-json" if n.endswith(".json")
              else "renders"): n for n in ws.cache.manifest() if n.startswith("sieve/")}
    corrupt_same_size(ws.cache.path / names[part])
    if part != "acts":  # make the renders matter: the activations must be made from them again
        (ws.cache.path / names["acts"]).unlink()
    ws = Workspace.open(recipe, home=home)
    again = sieve.render_activations(ws, "red", generator=sieve.as_generator("world"), m=4)
    np.testing.assert_allclose(again, good, rtol=1e-5, atol=1e-6)
    assert any(names[part] in n for n in ws.cache.notices)


@pytest.fixture(scope="module")
def stand_in_template(tmp_path_factory):
    return StandInWorkspace(tmp_path_factory.mktemp("standin"), n=300)


def test_sieve_run_json_corruption_is_recomputed(stand_in_template, tmp_path):
    from neurodash.cache import CacheDir
    ws = stand_in_template
    ws.cache = CacheDir(tmp_path / "c")
    good = sieve.sieve_run(ws, m=4)
    (name,) = [n for n in ws.cache.manifest() if n.startswith("sieve/runs/")]
    corrupt_same_size(ws.cache.path / name)
    ws.cache = CacheDir(tmp_path / "c")
    assert sieve.sieve_run(ws, m=4) == good
    assert any(name in n for n in ws.cache.notices)


def test_sieve_clip_concepts_corruption_is_recomputed(stand_in_template, tmp_path):
    from neurodash.cache import CacheDir
    ws = stand_in_template
    ws.cache = CacheDir(tmp_path / "c")
    good = sieve.clip_concept_activations(ws)
    (name,) = [n for n in ws.cache.manifest() if n.startswith("sieve/clip_concepts")]
    corrupt_same_size(ws.cache.path / name)
    ws.cache = CacheDir(tmp_path / "c")
    np.testing.assert_array_equal(sieve.clip_concept_activations(ws), good)
    assert any(name in n for n in ws.cache.notices)
