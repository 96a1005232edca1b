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


@pytest.fixture()
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("NEURODASH_HOME", str(h))
    return h


class ArrayProbe:
    """An in-memory probe (the same interface as probes.WorldProbe / FolderProbe)."""

    has_masks = False
    labels = None
    label_names: list = []

    def __init__(self, images: np.ndarray):
        self._images = images
        self.size = images.shape[1]

    def __len__(self):
        return len(self._images)

    def images(self, ids):
        return self._images[np.asarray(ids)]

    def chunks(self, batch, masks=False):
        for s in range(0, len(self._images), batch):
            yield s, self._images[s:s + batch]

    def listing_hash(self):
        return "array"


@pytest.fixture()
def array_probe():
    return ArrayProbe
