"""The Ray engine against a local Ray (2 CPUs): the shapes world's cache equals the single-process
one bit for bit, and a run stopped half-way resumes without recomputing finished shards."""
import threading

import pytest

ray = pytest.importorskip("ray", reason="Ray is in requirements.txt; install it to run these")

from neurodash.precompute import precompute
from neurodash.progress import Cancelled
from neurodash.ray_engine import RayRunner
from neurodash.recipe import Recipe
from neurodash.workspace import Workspace
from tests.cache_compare import assert_same_cache
from tests.ray_task_probe import modules_loaded


@pytest.fixture(scope="module")
def runner():
    r = RayRunner(workers=2)
    yield r
    r.close()


def test_workers_import_torch_before_their_first_task(runner):
    # stop() interrupts running tasks; one that lands inside a first `import torch` leaves the
    # worker's torch half-registered and its next shard fails ("duplicate registrations", CI)
    refs = [runner.task.remote(modules_loaded, None, "torch", "neurodash.extract") for _ in range(4)]
    assert ray.get(refs) == [[True, True]] * 4


def test_ray_precompute_equals_single_process_and_resumes(tmp_path, cnn_weights, runner):
    recipe = Recipe(weights=str(cnn_weights), probe_n=192)
    single = Workspace.open(recipe, home=tmp_path / "single")
    precompute(single)

    ws = Workspace.open(recipe, home=tmp_path / "ray")
    stop = threading.Event()

    def progress(fraction, message):
        if message.startswith("extract_shard: 1/"):
            stop.set()  # one shard is in the store: stop, as a killed run would
    with pytest.raises(Cancelled):
        precompute(ws, progress, stop, runner=runner, shards=3)
    assert not ws.is_ready()
    finished = {d.parent.name for d in (tmp_path / "ray" / "shards").glob("*/*/done.json")}
    assert 1 <= len(finished) < 3

    ws = Workspace.open(recipe, home=tmp_path / "ray")
    computed = precompute(ws, runner=runner, shards=3).computed
    assert len(computed["extract"]) == 3 - len(finished)               # finished shards not redone
    assert {f"{lo:09d}-{hi:09d}" for lo, hi in computed["extract"]}.isdisjoint(finished)
    assert_same_cache(single, ws)
