"""Allowed data roots: from NEURODASH_DATA / --data-root plus the cache home and assets; paths are
resolved (symlinks, ..) before the check; listings per kind for the pickers."""

import os

import pytest
from PIL import Image

from neurodash import roots
from neurodash.assets import ASSETS


@pytest.fixture()
def tree(tmp_path):
    data = tmp_path / "data"
    (data / "probes" / "cats").mkdir(parents=True)
    (data / "probes" / "imagenet" / "n01440764").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(data / "probes" / "cats" / "a.png")
    Image.new("RGB", (8, 8)).save(data / "probes" / "imagenet" / "n01440764" / "b.jpg")
    (data / "concepts.txt").write_text("cat\ndog\n")
    (data / "w.safetensors").write_bytes(b"x")
    (data / "labels.csv").write_text("file,cat\na.png,1\n")
    (data / ".hidden").mkdir()
    (data / ".hidden" / "secret.txt").write_text("no")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    return data, outside


def test_roots_from_env_args_home_and_assets(tree, tmp_path):
    data, outside = tree
    got = roots.allowed_roots([str(outside)], home=tmp_path / "nohome", env=f"{data}{os.pathsep}/does/not/exist")
    assert got == [outside.resolve(), data.resolve(), ASSETS.resolve()]  # missing home/roots skipped


def test_parse_data_roots_from_the_streamlit_argv():
    assert roots.parse_data_roots(["--data-root", "/a", "--x", "--data-root=/b"]) == ["/a", "/b"]
    assert roots.parse_data_roots([]) == []


@pytest.mark.parametrize("hostile", ["/etc/passwd", "/", "/etc", "{data}/../outside/secret.txt",
                                     "{data}/probes/../../outside", "~", "", "{data}/\x00x",
                                     "{data}/link-out", "{data}/link-out/secret.txt", "relative/path",
                                     "{data}/missing.txt"])
def test_hostile_paths_are_refused(tree, hostile):
    data, outside = tree
    os.symlink(outside, data / "link-out")
    allowed = roots.allowed_roots(env=str(data), home=data)
    with pytest.raises(roots.RootError):
        roots.confined(hostile.format(data=data), allowed)
    assert not roots.is_inside(hostile.format(data=data), allowed)


def test_paths_inside_are_allowed_and_resolved(tree):
    data, _ = tree
    allowed = roots.allowed_roots(env=str(data), home=data)
    assert roots.confined(f"{data}/probes/./cats/../cats", allowed) == (data / "probes" / "cats").resolve()
    assert roots.confined(str(data), allowed) == data.resolve()
    os.symlink(data / "concepts.txt", data / "link-in.txt")  # a link that stays inside is fine
    assert roots.confined(str(data / "link-in.txt"), allowed) == (data / "concepts.txt").resolve()


def test_listings_per_kind(tree):
    data, outside = tree
    os.symlink(outside, data / "link-out")  # never followed by a listing
    allowed = [data.resolve()]
    probes = [f.path for f in roots.listing("probe", allowed)]
    assert probes == [(data / "probes" / "cats").resolve(),
                      (data / "probes" / "imagenet" / "n01440764").resolve()]
    assert [f.path.name for f in roots.listing("concepts", allowed)] == ["concepts.txt"]
    assert [f.path.name for f in roots.listing("weights", allowed)] == ["w.safetensors"]
    assert [f.label for f in roots.listing("labels", allowed)] == ["data/labels.csv"]
    with pytest.raises(ValueError, match="unknown kind"):
        roots.listing("passwords", allowed)


def test_listing_is_bounded(tree, monkeypatch):
    data, _ = tree
    deep = data
    for i in range(8):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("x")
    assert "deep.txt" not in [f.path.name for f in roots.listing("concepts", [data.resolve()])]
    monkeypatch.setattr(roots, "MAX_ENTRIES", 2)
    assert len(roots.listing("concepts", [data.resolve()])) <= 1


def test_confine_recipe_checks_every_path_field(tree, tmp_path):
    from neurodash.recipe import Recipe
    data, outside = tree
    allowed = roots.allowed_roots(env=str(data), home=data)
    ok = Recipe(probe=str(data / "probes" / "cats"), concept_set=str(data / "concepts.txt"),
                concept_source="clip", labels_csv=str(data / "labels.csv"))
    roots.confine_recipe(ok, allowed)
    roots.confine_recipe(Recipe(), allowed)  # world / world / no files: nothing to check
    for bad in [Recipe(concept_set="/etc/passwd", concept_source="clip"), Recipe(probe="/"),
                Recipe(probe=str(data / "concepts.txt")), Recipe(weights=str(outside / "secret.txt")),
                Recipe(clip_weights=str(outside / "secret.txt"), concept_source="clip"),
                Recipe(model="open_clip:/etc/cfg.json", layer="x", weights=str(data / "w.safetensors"))]:
        with pytest.raises(roots.RootError):
            roots.confine_recipe(bad, allowed)


def test_broden_folders_are_listed_and_confined(tmp_path):
    from neurodash.recipe import Recipe
    from tests.broden_fixture import write_broden
    root, _ = write_broden(tmp_path / "data" / "broden")
    allowed = [(tmp_path / "data").resolve()]
    assert root.resolve() in [f.path for f in roots.listing("probe", allowed)]
    roots.confine_recipe(Recipe(probe=str(root), concept_set=f"broden:{root}"), allowed)
    with pytest.raises(roots.RootError):
        roots.confine_recipe(Recipe(concept_set="broden:/etc"), allowed)
    roots.confine_recipe(Recipe(concept_set="words-3k", concept_source="clip"), allowed)  # a name
