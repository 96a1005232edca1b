"""Shared fixtures for the dashboard tests: one small precomputed shapes-world workspace per run.

NEURODASH_HOME points at a temporary cache root and NEURODASH_PROBE_SIZE shrinks the default world
probe, so the app opens on a ready workspace without recomputing it in every test.
"""

import os
import pytest
import streamlit as st

PROBE_SIZE = 400


@pytest.fixture(scope="session")
def nd_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("neurodash_home")
    old = {k: os.environ.get(k) for k in ("NEURODASH_HOME", "NEURODASH_PROBE_SIZE")}
    os.environ["NEURODASH_HOME"] = str(home)
    os.environ["NEURODASH_PROBE_SIZE"] = str(PROBE_SIZE)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def ready_home(nd_home):
    """The default (small) shapes-world workspace, precomputed once for the whole session."""
    from dataclasses import replace

    from neurodash.precompute import precompute
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace

    recipe = replace(Recipe.default(), probe_n=PROBE_SIZE)
    ws = Workspace.open(recipe, home=str(nd_home))
    precompute(ws)
    assert ws.is_ready()
    return nd_home


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
