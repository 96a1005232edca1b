"""Renderer throughput: world images per second, as a ratio to a floor measured in the same run.

Floors: a plain numpy fill of the same image array (np.full, uint8 (n,64,64,3)) for images alone,
and a fill of the same mask array (bool (n,C,64,64)) for images with masks. The ratio says how many
times a bare memory write of the output the renderer costs; images/s is printed alongside.

    python bench/bench_world.py [--n 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse

import numpy as np

from bench.common import best_times

from neurodash import world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, size, C = args.n, 64, len(world.vocabulary())
    world.sample(16)  # warm-up (imports, caches)
    funcs = {
        "floor: fill images": lambda: np.full((n, size, size, 3), 7, dtype=np.uint8),
        "floor: fill masks": lambda: np.full((n, C, size, size), True, dtype=bool),
        "sample(masks=False)": lambda: world.sample(n, seed=1, masks=False),
        "sample(masks=True)": lambda: world.sample(n, seed=1, masks=True),
        "render_concept x20 (m=100)": lambda: [world.render_concept(c, 100, seed=1)
                                               for c in world.vocabulary()[:20]],
    }
    t = best_times(funcs, args.repeats)
    print(f"world renderer, n={n} images of {size}x{size}, {C} concepts "
          f"(min of {args.repeats} interleaved runs)")
    rows = [("sample(masks=False)", "floor: fill images", n),
            ("sample(masks=True)", "floor: fill masks", n),
            ("render_concept x20 (m=100)", "floor: fill masks", 2000)]
    for name, floor, count in rows:
        floor_t = t[floor] * count / n
        print(f"  {name:<28s} {count / t[name]:9.0f} images/s   {t[name] / floor_t:7.1f}x "
              f"floor ({floor}, {floor_t * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
