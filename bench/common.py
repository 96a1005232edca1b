"""Shared helper for bench/ scripts: time candidates against a floor measured in the same run.

This machine is small and shared, so absolute seconds mean little. Every figure is printed as a
ratio to a floor (usually the plain matrix product of the same shapes) timed in the same process,
with the runs interleaved (floor, a, b, floor, a, b, ...) and the minimum of a few repeats kept, so
that a burst of load from a neighbour inflates one repeat, not the ratio.
"""
from __future__ import annotations

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


def ratio_report(floor_name: str, funcs: dict[str, Callable[[], object]], *, repeats: int = 3,
                 targets: dict[str, float] | None = None, title: str = "") -> dict[str, float]:
    """Time `funcs` (which must include `floor_name`), print each as a ratio to the floor.

    `targets` maps a name to its maximum allowed ratio; the line then says whether it is met.
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
            verdict = f"  target <= {targets[name]:g}x: {'met' if r <= targets[name] else 'MISSED'}"
        print(f"  {name:<40s} {t:8.3f} s  {r:7.2f}x floor{verdict}")
    return ratios
