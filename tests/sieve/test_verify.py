"""SIEVE Verify on hand-built detector neurons: the right concept fires them, a control does not."""

import json

import numpy as np
import pytest

from neurodash.generate import GeneratorError, get_generator
from neurodash.progress import Job
from neurodash.sieve import choose_control, render_activations, verify

RED, BLUE, BRIGHT = 0, 1, 2  # the stand-in workspace's neurons (see conftest.py)


def test_select_finds_the_detectors_and_not_the_diffuse_neuron(stand_in):
    from neurodash.sieve import select

    res = select(stand_in.acts, beta=10)
    assert res.selective[RED] and res.selective[BLUE] and not res.selective[BRIGHT]


def test_control_is_an_unrelated_concept(stand_in):
    control = choose_control(stand_in, "red")
    assert control in stand_in.concept_names and "red" not in control
    C = stand_in.concepts
    names = stand_in.concept_names
    r = abs(np.corrcoef(C[:, names.index("red")], C[:, names.index(control)])[0, 1])
    assert r < 0.05  # nearly independent of "red" on the probe


@pytest.mark.parametrize("neuron, concept", [(RED, "red"), (BLUE, "blue")])
def test_right_concept_beats_control(stand_in, neuron, concept):
    res = verify(stand_in, neuron, concept, generator="world", m=40, seed=0, threshold=0.5)
    assert res.concept == concept and res.control != concept
    assert res.ar > res.control_ar + 0.3, res.to_dict()
    assert res.p_vs_control < 0.01
    lo, hi = res.interval
    assert lo <= res.ar <= hi and hi - lo < 0.5
    assert res.verdict == ("verified" if res.ar >= 0.5 else "rejected")
    json.dumps(res.to_dict())  # the CLI prints it


def test_detector_ar_beside_a_random_concept_and_hard_renders(stand_in):
    """The issue's check: a hand-built detector reaches AR >= 0.8 on its concept's (prototypical)
    renders, and a random concept, shown with its interval beside it, stays low."""
    res = verify(stand_in, RED, "red", generator="world", m=50, seed=3, threshold=0.5)
    assert res.ar >= 0.8
    assert res.random_concept in stand_in.concept_names and res.random_concept != "red"
    lo, hi = res.random_interval
    assert 0 <= lo <= res.random_ar <= hi <= 1
    # a concept with no red in it (the draw above may name one that has, e.g. "red circle")
    blue = verify(stand_in, RED, "blue", generator="world", m=50, seed=3, threshold=0.5)
    assert blue.ar <= 0.1
    assert {"random_concept", "random_ar", "random_interval"} <= set(res.to_dict())
    # the hard render (one instance of random size) is an option, cached apart from the default
    hard = verify(stand_in, RED, "red", generator=get_generator("world", hard=True), m=50, seed=3, threshold=0.5)
    assert hard.m == 50 and 0 <= hard.ar <= 1 and hard.activations != res.activations


def test_wrong_concept_is_rejected(stand_in):
    res = verify(stand_in, RED, "blue", generator="world", m=40, seed=0, threshold=0.5)
    assert res.ar < 0.2 and res.verdict == "rejected"


def test_renders_and_acts_are_cached_in_the_workspace(stand_in):
    gen = get_generator("world")
    before = stand_in.calls
    a = render_activations(stand_in, "green", generator=gen, m=8, seed=5)
    mid = stand_in.calls
    b = render_activations(stand_in, "green", generator=gen, m=8, seed=5)
    assert mid == before + 1 and stand_in.calls == mid  # second call read the cache
    np.testing.assert_array_equal(a, b)
    assert list((stand_in.cache.path / "sieve" / "renders").glob("*.npy"))


def test_verify_runs_as_a_job_and_bad_input_is_clear(stand_in):
    job = Job(lambda progress, cancel: verify(stand_in, RED, "red", m=10, threshold=0.5,
                                                        progress=progress, cancel=cancel))
    res = job.result(timeout=60)
    assert job.state == "done" and res.m == 10
    with pytest.raises(ValueError, match="out of range"):
        verify(stand_in, 99, "red", threshold=0.5)
    from neurodash.generate import GeneratorError
    with pytest.raises(GeneratorError, match="knows no concept"):
        verify(stand_in, RED, "zebra", control="circle", threshold=0.5)


class _OutOfMemory:
    """A generator that fails the way a GPU pipeline does when memory runs out."""

    name = "failing"

    def identity(self):
        return {"generator": "failing"}

    def render(self, concept, m, seed=0, progress=None, cancel=None):
        raise GeneratorError("out of memory generating 4 images: lower batch_size")


def test_a_failing_generator_is_a_clear_error_and_breaks_nothing(stand_in):
    manifest = (stand_in.cache.path / "manifest.json")
    before = manifest.read_text() if manifest.exists() else ""
    with pytest.raises(GeneratorError, match="out of memory"):
        verify(stand_in, RED, "red", generator=_OutOfMemory(), m=5, threshold=0.5)
    assert (manifest.read_text() if manifest.exists() else "") == before  # nothing half-written
    job = Job(lambda p, c: verify(stand_in, RED, "red", generator=_OutOfMemory(), m=5, threshold=0.5))
    job.wait(30)
    assert job.state == "failed" and "out of memory" in str(job.error)
    assert verify(stand_in, RED, "red", m=5, threshold=0.5).m == 5  # the world generator still works


def test_a_cancelled_job_says_so(stand_in):
    import threading

    gate = threading.Event()

    def work(progress, cancel):
        gate.wait(10)  # the job is cancelled before it starts rendering
        return verify(stand_in, RED, "red", m=7, seed=123, threshold=0.5, progress=progress, cancel=cancel)

    job = Job(work)
    job.cancel()
    gate.set()
    job.wait(30)
    assert job.state == "cancelled"


def test_a_looser_activation_threshold_raises_every_ar(stand_in):
    strict = verify(stand_in, RED, "red", m=30, seed=2, control="circle", threshold=0.5)
    loose = verify(stand_in, RED, "red", m=30, seed=2, control="circle", threshold=0.5, top_fraction=0.05)
    assert loose.activation_threshold <= strict.activation_threshold
    assert loose.ar >= strict.ar and loose.control_ar >= strict.control_ar
    assert strict.top_fraction == 0.01 and loose.top_fraction == 0.05
    with pytest.raises(ValueError, match="top_fraction"):
        verify(stand_in, RED, "red", threshold=0.5, top_fraction=0.0)
