"""Blocks of numpy work on every core the BLAS may use.

numpy releases the GIL inside sorts, gathers and ufunc loops, so a small thread pool runs row
blocks of that work side by side. The floor every bench ratio is measured against (a BLAS
product) uses all those cores; single-threaded numpy next to it would leave them idle. The number
of workers follows the BLAS thread limit (threadpoolctl), so `threadpool_limits(1)` makes
everything single-threaded again.
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

# Below this much work (elements touched) a thread pool costs more than it saves.
MIN_PARALLEL_WORK = 1 << 20


_INSIDE = threading.local()  # set in pool workers: a nested run_blocks runs serially there

_BLAS: list | None = None  # threadpoolctl's BLAS controllers, found once (finding them costs ms)


def _blas_controllers() -> list:
    global _BLAS
    if not _BLAS:
        from threadpoolctl import ThreadpoolController
        _BLAS = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return _BLAS


def threads() -> int:
    """Workers to use: the BLAS thread limit in force (read live, ~1 µs), at most the machine's cores."""
    cores = os.cpu_count() or 1
    try:
        blas = [c.num_threads for c in _blas_controllers()]
        n = max(blas) if blas else cores
    except Exception:  # threadpoolctl missing or confused: one worker per core
        n = cores
    return max(1, min(int(n), cores))


def run_blocks(fn: Callable[[int, int], None], total: int, work: int, *, blocks_per_thread: int = 1,
               blas_inside: bool = False) -> None:
    """Call fn(start, stop) over [0, total) in contiguous blocks, in parallel when `work` (elements
    touched) is large enough to pay for it. `fn` writes its own disjoint output slices.
    `blas_inside`: fn calls the BLAS (small products per item); it then runs on one BLAS thread
    while the blocks run (see _blas_on_one_thread). Off by default: lowering and restoring the
    limit makes the next multi-threaded BLAS call wake its threads (~ms on a busy machine)."""
    nested = getattr(_INSIDE, "active", False)  # already one block of an outer run: the cores are busy
    workers = threads() if work >= MIN_PARALLEL_WORK and total > 1 and not nested else 1
    if workers == 1:
        fn(0, total)
        return
    nblocks = min(total, workers * blocks_per_thread)
    edges = [round(i * total / nblocks) for i in range(nblocks + 1)]

    def worker(a, b):
        _INSIDE.active = True
        try:
            fn(a, b)
        finally:
            _INSIDE.active = False

    pool = _pool(workers)
    with _blas_on_one_thread() if blas_inside else contextlib.nullcontext():
        for f in [pool.submit(worker, a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]:
            f.result()


_HUSHED = {"count": 0, "saved": []}  # run_blocks calls in progress, the BLAS limits they replaced
_HUSHED_LOCK = threading.Lock()


@contextlib.contextmanager
def _blas_on_one_thread():
    """While blocks run on every core, a BLAS call inside one of them (a small matrix-vector
    product) runs on its own thread: a multi-threaded call would wake the BLAS's own threads,
    which then spin-wait for more work on the cores the blocks need. The first of overlapping
    runs (several callers in one process) lowers the limit, the last restores it."""
    with _HUSHED_LOCK:
        if _HUSHED["count"] == 0:
            try:
                ctl = _blas_controllers()
                _HUSHED["saved"] = [(c, c.num_threads) for c in ctl]
                for c, _ in _HUSHED["saved"]:
                    c.set_num_threads(1)
            except Exception:  # threadpoolctl missing or confused: leave the BLAS as it is
                _HUSHED["saved"] = []
        _HUSHED["count"] += 1
    try:
        yield
    finally:
        with _HUSHED_LOCK:
            _HUSHED["count"] -= 1
            if _HUSHED["count"] == 0:
                for c, n in _HUSHED["saved"]:
                    c.set_num_threads(n)
                _HUSHED["saved"] = []


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per worker count: starting threads for every call costs more than small
    blocks of work (a blocked product calls run_blocks once per row block). Workers never wait on
    the pool themselves (nested runs are serial), so callers sharing it cannot deadlock."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neurodash-stats")
        return pool
