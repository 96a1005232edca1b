"""Fixtures for the compute-module tests: weights made in the test, never downloaded."""
from __future__ import annotations

import numpy as np
import pytest


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
