"""Shared fixtures: weights made in the test (never downloaded), a small built workspace, a cache home."""
from __future__ import annotations

import pytest

from tests.helpers import ColourClip, StandInWorkspace


@pytest.fixture(scope="session")
def cnn_weights(tmp_path_factory):
    """A random-init shapes CNN saved as safetensors (the shipped weights may not exist yet)."""
    import torch
    from safetensors.torch import save_file

    from neurodash import world
    from neurodash.world import cnn

    torch.manual_seed(0)
    model = cnn.ShapesCNN(len(world.vocabulary()))
    path = tmp_path_factory.mktemp("weights") / "cnn.safetensors"
    save_file(model.state_dict(), str(path))
    return path


TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip_files(tmp_path_factory):
    """A tiny open_clip model: its config JSON and random weights (safetensors), made here."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("clip")
    cfg = d / "tiny-test-clip.json"
    cfg.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-test-clip", pretrained=None)
    weights = d / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return cfg, weights


@pytest.fixture()
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("NEURODASH_HOME", str(h))
    return h


@pytest.fixture()
def array_probe():
    from neurodash.probes import ArrayProbe

    return ArrayProbe



@pytest.fixture(scope="session")
def built(tmp_path_factory, cnn_weights):
    """One precomputed workspace (random CNN, block3, 160 world images) shared by read-only tests:
    (workspace, home, progress messages seen)."""
    from neurodash.precompute import precompute
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    from tests.helpers import BUILT_PROBE_N

    home = tmp_path_factory.mktemp("ndhome")
    ws = Workspace.open(Recipe(weights=str(cnn_weights), probe_n=BUILT_PROBE_N, layer="block3"), home=home)
    seen = []
    precompute(ws, progress=lambda f, m: seen.append((f, m)))
    return ws, home, seen


@pytest.fixture(scope="session")
def colour_clip():
    return ColourClip()


@pytest.fixture(scope="session")
def stand_in(tmp_path_factory):
    return StandInWorkspace(tmp_path_factory.mktemp("ws"))
