"""Row blocks on several threads give the same bits as one thread."""
import numpy as np
import pytest

from neurodash.stats import parallel
from neurodash.stats.bootstrap import bootstrap_scores
from neurodash.stats.metrics import METRICS, similarity


def test_run_blocks_covers_every_index_once(monkeypatch):
    monkeypatch.setattr(parallel, "threads", lambda: 3)
    seen = np.zeros(101, int)

    def fn(a, b):
        seen[a:b] += 1

    parallel.run_blocks(fn, 101, work=10**9, blocks_per_thread=4)
    assert (seen == 1).all()
    parallel.run_blocks(fn, 101, work=1)  # too little work: one call
    assert (seen == 2).all()


@pytest.mark.parametrize("name", list(METRICS))
def test_threads_change_no_bit(name, monkeypatch):
    rng = np.random.default_rng(3)
    acts = np.round(rng.standard_normal((400, 6)), 1).astype(np.float32)
    soft = rng.random((400, 5)).astype(np.float32)
    labels = rng.random((400, 5)) < 0.1
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    one = [similarity(acts, c, name, alpha=0.05) for c in (soft, labels)]
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 0)
    monkeypatch.setattr(parallel, "threads", lambda: 3)
    many = [similarity(acts, c, name, alpha=0.05) for c in (soft, labels)]
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
    if name != "soft_wpmi":
        a = bootstrap_scores(acts[:, 0], soft, name, K=4, seed=1, alpha=0.05)
        monkeypatch.setattr(parallel, "threads", lambda: 1)
        np.testing.assert_array_equal(a, bootstrap_scores(acts[:, 0], soft, name, K=4, seed=1, alpha=0.05))


def test_threads_follow_the_blas_limit():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        assert parallel.threads() == 1
    assert 1 <= parallel.threads() <= (__import__("os").cpu_count() or 1)


def test_nested_runs_are_serial_inside_a_block(monkeypatch):
    """A run inside another run's block does not queue on the (shared, long-lived) pool: it runs
    as one call on the block's own thread, so workers never wait for each other."""
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    inner_calls = []

    def outer(a, b):
        parallel.run_blocks(lambda c, d: inner_calls.append((c, d)), 10, work=10**9)

    parallel.run_blocks(outer, 4, work=10**9, blocks_per_thread=2)
    assert sorted(inner_calls) == [(0, 10)] * 4
    parallel.run_blocks(lambda c, d: inner_calls.append((c, d)), 10, work=10**9)  # outside: split again
    assert len(inner_calls) == 6


def test_blas_runs_on_one_thread_inside_blocks_and_the_limit_comes_back(monkeypatch):
    """blas_inside=True: while the blocks run the BLAS limit is 1 (its own threads would spin on
    the blocks' cores); overlapping runs from two callers restore the limit when the last ends."""
    import threading
    from threadpoolctl import threadpool_info
    np.ones((64, 64)) @ np.ones((64, 64))  # the BLAS is loaded

    def blas_limit():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    before = blas_limit()
    seen, started, release = [], threading.Semaphore(0), threading.Event()

    def slow(a, b):  # holds its run open while a second caller's run starts and ends
        started.release()
        release.wait(timeout=10)
        seen.append(blas_limit())

    monkeypatch.setattr(parallel, "threads", lambda: 2)
    other = threading.Thread(target=lambda: parallel.run_blocks(slow, 2, work=10**9, blas_inside=True))
    other.start()
    assert started.acquire(timeout=10) and started.acquire(timeout=10)
    monkeypatch.setattr(parallel, "threads", lambda: 3)  # another pool: the first one is busy
    parallel.run_blocks(lambda a, b: seen.append(blas_limit()), 3, work=10**9, blas_inside=True)
    assert blas_limit() == 1  # the first run is still open
    release.set()
    other.join(timeout=10)
    assert seen and set(seen) == {1}
    assert blas_limit() == before
    parallel.run_blocks(lambda a, b: seen.append(blas_limit()), 3, work=10**9)  # default: left alone
    assert seen[-1] == before
