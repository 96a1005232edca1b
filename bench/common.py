"""Shared helper for bench/ scripts: time candidates against a floor measured in the same run.

This machine is small and shared, so absolute seconds mean little. Every figure is printed as a
ratio to a floor (usually the plain matrix product of the same shapes) timed in the same process,
with the runs interleaved (floor, a, b, floor, a, b, ...) and the minimum of a few repeats kept, so
that a burst of load from a neighbour inflates one repeat, not the ratio.

Load distorts ratios anyway: a multi-threaded floor (BLAS on every core) slows far more under load
than single-threaded numpy code, so every ratio looks better than it is. `machine_load` compares
the multi-threaded floor with a single-threaded calibration and reads the load average; when it
says the machine is loaded, `ratio_report(judge=False)` refuses to call a target met.
"""
from __future__ import annotations

import os
import time
from typing import Callable


def best_times(funcs: dict[str, Callable[[], object]], repeats: int = 3) -> dict[str, float]:
    """Minimum wall time (seconds) of each callable over `repeats` interleaved rounds."""
    best = {name: float("inf") for name in funcs}
    for _ in range(repeats):
        for name, fn in funcs.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def blas_threads() -> int:
    from threadpoolctl import threadpool_info
    return max([i.get("num_threads", 1) for i in threadpool_info() if i.get("user_api") == "blas"] or [1])


def machine_load(floor: Callable[[], object], *, repeats: int = 3, min_speedup_share: float = 0.75,
                 max_load_per_core: float = 0.5) -> dict:
    """Is the machine quiet enough for ratios to mean what they say?

    Times `floor` with every BLAS thread and with one, and reads os.getloadavg(). Loaded when the
    1-minute load average (taken before the timing, so it is mostly other processes) exceeds
    `max_load_per_core` per core, or when the multi-threaded floor is not at least
    `min_speedup_share` × threads faster than the single-threaded one (the cores are busy).
    """
    from threadpoolctl import threadpool_limits
    load_before = os.getloadavg()
    threads = blas_threads()
    multi = best_times({"f": floor}, repeats)["f"]
    with threadpool_limits(limits=1, user_api="blas"):
        single = best_times({"f": floor}, repeats)["f"]
    speedup = single / multi
    cores = os.cpu_count() or 1
    reasons = []
    if load_before[0] > max_load_per_core * cores:
        reasons.append(f"load average {load_before[0]:.2f} > {max_load_per_core * cores:.2f} on {cores} cores")
    if threads > 1 and speedup < min_speedup_share * threads:
        reasons.append(f"{threads}-thread floor only {speedup:.2f}x the 1-thread floor "
                       f"(quiet: ≥ {min_speedup_share * threads:.2f}x)")
    return {"loaded": bool(reasons), "reasons": reasons, "loadavg": load_before, "threads": threads,
            "floor_multi_s": multi, "floor_single_s": single, "speedup": speedup}


def print_load(info: dict) -> None:
    la = info["loadavg"]
    print(f"machine: load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, {os.cpu_count()} cores, "
          f"{info['threads']} BLAS threads; calibration floor {info['floor_multi_s']:.3f} s "
          f"({info['threads']} threads) vs {info['floor_single_s']:.3f} s (1 thread), "
          f"speedup {info['speedup']:.2f}x")
    if info["loaded"]:
        print("LOADED: " + "; ".join(info["reasons"]) + ". No target is judged met on this run.")
    else:
        print("quiet: targets are judged.")


def ratio_report(floor_name: str, funcs: dict[str, Callable[[], object]], *, repeats: int = 3,
                 targets: dict[str, float] | None = None, title: str = "", judge: bool = True) -> dict[str, float]:
    """Time `funcs` (which must include `floor_name`), print each as a ratio to the floor, with the
    floor's seconds on every line.

    `targets` maps a name to its maximum allowed ratio; the line then says whether it is met
    (with judge=False, e.g. on a loaded machine, a ratio under target reads "not judged").
    Returns the ratios (the floor's own entry is its time in seconds under the key 'floor_s').
    """
    times = best_times(funcs, repeats)
    floor = times[floor_name]
    if title:
        print(f"\n== {title}")
    print(f"floor {floor_name}: {floor:.3f} s (min of {repeats}, interleaved)")
    ratios = {"floor_s": floor}
    for name, t in times.items():
        if name == floor_name:
            continue
        r = t / floor
        ratios[name] = r
        verdict = ""
        if targets and name in targets:
            ok = r <= targets[name]
            word = ("met" if judge else "under target, not judged (loaded)") if ok else "MISSED"
            verdict = f"  target <= {targets[name]:g}x: {word}"
        print(f"  {name:<40s} {t:8.3f} s  {r:7.2f}x floor ({floor:.3f} s){verdict}")
    return ratios


def part1_arrays(n: int, N: int, C: int):
    """bench_stats' part-1 inputs (seed 0), shared by the benches that compare against it:
    acts float32 (n,N) normal, binary bool (n,C) at 2%, the same as float32, soft float32 uniform."""
    import numpy as np

    rng = np.random.default_rng(0)
    acts = rng.standard_normal((n, N), dtype=np.float32)
    binary = rng.random((n, C), dtype=np.float32) < 0.02
    soft = rng.random((n, C), dtype=np.float32)
    return acts, binary, binary.astype(np.float32), soft
