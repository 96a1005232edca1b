"""Shards on Ray: each shard is one Ray task (one GPU per task where the cluster has GPUs, else one
CPU); results come back through Ray's object store, so the driver alone writes the cache and the
workers need no shared filesystem for it. Workers do need what a shard reads: the probe's files at
the same path (a world probe is regenerated), the model's weights (a library cache or a path they
can see) and neurodash itself installed (``pip install neurodash[ray]`` on every node).

``RayRunner(address=None)`` starts a local Ray (``workers`` CPUs) or joins a running cluster
(``address="auto"`` on a cluster node, ``"ray://head:10001"`` through Ray Client). Ray is an
optional dependency: without it, a clear message says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path

import neurodash


class RayUnavailable(RuntimeError):
    pass


def _ray():
    try:
        import ray
    except ImportError as err:
        raise RayUnavailable("the ray engine needs Ray: pip install 'neurodash[ray]' "
                             "(or pip install ray)") from err
    return ray


def warm_worker() -> None:
    """Ray's worker_process_setup_hook: import what shards import before any task can run.

    ``stop()`` cancels running tasks with a KeyboardInterrupt and keeps the worker. Landing inside
    a first ``import torch`` leaves torch half-registered, and the worker's next task then fails
    with "duplicate registrations for aten..." (seen on CI). Imported here, at worker start, no
    task is running yet, so no cancel can interrupt it.
    """
    import neurodash.concepts  # noqa: F401
    import neurodash.extract  # noqa: F401
    import neurodash.models  # noqa: F401
    import neurodash.probes  # noqa: F401


def _call(fn, job, *args):
    """What every task runs: one shard function (module-level, so it pickles by reference)."""
    return fn(job, *args)


class RayRunner:
    """Runs shard calls as Ray tasks, yielding results as they finish (neurodash.shards.Runner)."""

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 gpus_per_task: float | None = None):
        ray = _ray()
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs = dict(address=address, include_dashboard=False, log_to_driver=False,
                          logging_level="ERROR")
            runtime_env = {"worker_process_setup_hook": f"{__name__}.warm_worker"}
            if address is None:
                # a local Ray's workers import neurodash from this checkout (a cluster's nodes
                # have it installed: their own environment is left alone)
                env = {"PYTHONPATH": os.pathsep.join(
                    [str(Path(neurodash.__file__).resolve().parent.parent)]
                    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
                runtime_env["env_vars"] = env
                if workers:
                    kwargs["num_cpus"] = int(workers)
            ray.init(runtime_env=runtime_env, **kwargs)
            self.started = True
        if gpus_per_task is None:
            gpus_per_task = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self.task = ray.remote(num_cpus=1, num_gpus=gpus_per_task, max_retries=2)(_call)
        self.pending: list = []

    def run(self, fn, job, calls, *, cancel=None):
        ray = self.ray
        from neurodash.progress import Cancelled
        job_ref = ray.put(job)  # once, not once per task (it holds the concept text embeddings)
        index = {}
        for i, args in enumerate(calls):
            ref = self.task.remote(fn, job_ref, *args)
            index[ref] = i
        self.pending = list(index)
        while self.pending:
            ready, self.pending = ray.wait(self.pending, num_returns=1, timeout=0.5)
            if cancel is not None and cancel.is_set():
                raise Cancelled("precompute cancelled; rerun to resume from the finished shards")
            for ref in ready:
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as err:  # the shard's own error, not Ray's wrapper
                    cause = getattr(err, "cause", None)
                    raise (cause if isinstance(cause, Exception) else err) from err
                yield index[ref], result

    def stop(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref)  # not force: the worker (and its loaded model) stays
        self.pending = []

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
            self.started = False
