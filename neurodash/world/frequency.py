"""How often each concept occurs in probe images: the world's rarity contract (every object kind in
at most 1% of images) and the figures in assets/world_concepts.json.

    python -m neurodash.world.frequency [--n 5000] [--seed 0]   # rewrites assets/world_concepts.json
"""
from __future__ import annotations

import argparse

import numpy as np

from .sampling import sample
from .store import FREQUENCY_RECORD, write_record
from .vocabulary import CONCEPT_SETS, DEFAULT_SET, vocabulary

RARE = 0.01  # the contract: an object kind is in at most this share of probe images


def concept_frequency(n: int = 5000, seed: int = 0, concept_set: str = DEFAULT_SET,
                      chunk: int = 1000) -> dict[str, float]:
    """Concept name -> share of n probe images (seed) in which it is present."""
    counts = np.zeros(len(vocabulary(concept_set)), dtype=np.int64)
    for start in range(0, n, chunk):
        _, labels, _ = sample(min(chunk, n - start), seed, start=start, masks=False, concept_set=concept_set)
        counts += labels.sum(axis=0)
    return {name: float(c) / max(n, 1) for name, c in zip(vocabulary(concept_set), counts)}


def frequency_record(n: int = 5000, seed: int = 0) -> dict:
    record = {"command": f"python -m neurodash.world.frequency --n {n} --seed {seed}", "n": n, "seed": seed,
              "rare": RARE}
    for concept_set in CONCEPT_SETS:
        freq = concept_frequency(n, seed, concept_set)
        values = np.array(list(freq.values()))
        record[concept_set] = {"concepts": len(freq), "min": float(values.min()),
                               "median": float(np.median(values)), "max": float(values.max()),
                               "above_rare": int((values > RARE).sum()), "frequency": freq}
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurodash.world.frequency", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    record = frequency_record(args.n, args.seed)
    write_record(FREQUENCY_RECORD, record)
    for concept_set in CONCEPT_SETS:
        r = record[concept_set]
        print(f"{concept_set}: {r['concepts']} concepts; share of images min {r['min']:.4f} median "
              f"{r['median']:.4f} max {r['max']:.4f}; above {RARE:.0%}: {r['above_rare']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
