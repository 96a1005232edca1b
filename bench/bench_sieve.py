"""SIEVE speed, as ratios to floors measured in the same run (interleaved, min of repeats).

1. select(acts) vs the floor np.percentile(acts, [50, 99], axis=0) on the same matrix
   (select adds the ratio rule and the top-20 ids of selective neurons).
2. A cached Verify replay (render_activations reading sieve/acts from the workspace cache) vs the
   floor np.load of the same array: what a demo replay costs over reading the bytes.
3. A first (uncached) world render + forward of m images vs the floor world.sample(m) + forward:
   the cost of forcing a concept into the renders.

    /work/venv/bin/python bench/bench_sieve.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from neurodash import world
from neurodash.cache import CacheDir
from neurodash.generate import get_generator
from neurodash.sieve import render_activations, select


def best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


class MeanColourWorkspace:
    """Just enough workspace for render_activations: a cache and a cheap forward (mean colour)."""

    def __init__(self, directory):
        self.cache = CacheDir(directory)

    def forward(self, images):
        x = np.asarray(images, dtype=np.float32) / 255.0
        return x.mean(axis=(1, 2)), None


def main():
    rng = np.random.default_rng(0)
    acts = np.maximum(rng.normal(size=(20000, 512)), 0).astype(np.float32) ** 3
    pairs = []
    for _ in range(3):  # interleave the measured call and its floor
        floor = best_of(lambda: np.percentile(acts, [50, 99], axis=0), 2)
        ours = best_of(lambda: select(acts), 2)
        pairs.append((ours, floor))
    ours, floor = min(p[0] for p in pairs), min(p[1] for p in pairs)
    print(f"select 20000x512: {ours * 1e3:.1f} ms, floor np.percentile {floor * 1e3:.1f} ms, "
          f"ratio {ours / floor:.2f}")

    gen = get_generator("world")
    with tempfile.TemporaryDirectory() as d:
        ws = MeanColourWorkspace(Path(d))
        m = 50
        first = best_of(lambda: render_activations(ws, "red", generator=gen, m=m,
                                                   seed=int(time.perf_counter_ns() % 10**6)), 3)
        plain = best_of(lambda: ws.forward(world.sample(m, seed=1, masks=False)[0]), 3)
        print(f"uncached verify render+forward, m={m}: {first * 1e3:.1f} ms, floor world.sample+forward "
              f"{plain * 1e3:.1f} ms, ratio {first / plain:.2f}")
        render_activations(ws, "red", generator=gen, m=m, seed=0)
        name = next((Path(d) / "sieve" / "acts").glob("*.npy"))
        replay, load = [], []
        for _ in range(3):
            replay.append(best_of(lambda: render_activations(ws, "red", generator=gen, m=m, seed=0), 5))
            load.append(best_of(lambda: np.load(name), 5))
        print(f"cached verify replay: {min(replay) * 1e3:.2f} ms, floor np.load {min(load) * 1e3:.2f} ms, "
              f"ratio {min(replay) / min(load):.1f}")


if __name__ == "__main__":
    main()
