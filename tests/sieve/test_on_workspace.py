"""SIEVE on the real Workspace (shapes CNN, random init saved by the test: no shipped weights needed)."""

import numpy as np
import pytest

from neurodash.precompute import precompute


@pytest.fixture(scope="module")
def real_ws(tmp_path_factory):
    import torch
    from safetensors.torch import save_file

    from neurodash import world
    from neurodash.world import cnn
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "cnn.safetensors"
    save_file(cnn.ShapesCNN(len(world.vocabulary())).state_dict(), str(path))
    recipe = Recipe(model="shapes-cnn", weights=str(path), probe_n=300)
    home = tmp_path_factory.mktemp("home")
    ws = Workspace.open(recipe, home=home)
    precompute(ws)
    return ws, recipe, home


def test_verify_matches_an_independent_recomputation(real_ws):
    from neurodash import world
    from neurodash.sieve import verify

    ws, _, _ = real_ws
    neuron = int(np.argmax(np.asarray(ws.acts).std(axis=0)))
    res = verify(ws, neuron, "red", generator="world", m=12, seed=4, control="circle", threshold=0.5)
    images, _, _ = world.render_concept("red", 12, seed=4)
    acts, _ = ws.forward(images)
    thr = ws.top1_threshold()[neuron]
    assert res.hits == int((acts[:, neuron] > thr).sum())
    np.testing.assert_allclose(res.activations, acts[:, neuron], rtol=1e-5)
    assert res.activation_threshold == pytest.approx(float(thr))


def test_sieve_files_keep_the_workspace_trusted(real_ws):
    from neurodash.sieve import render_activations
    from neurodash.generate import get_generator
    from neurodash.workspace import Workspace

    ws, recipe, home = real_ws
    render_activations(ws, "blue", generator=get_generator("world"), m=6, seed=0)
    assert list((ws.cache.path / "sieve" / "acts").glob("*.npy"))
    again = Workspace.open(recipe, home=home)
    assert again.is_ready(), again.stale_reason  # our lazily added files match the manifest
    assert not again.cache.problems()
