"""What checking every cached byte costs (issue 12): opening a workspace and switching neurons.

    python -m bench.bench_integrity            # acts 50,000 × 512 float32 (100 MB)
    python -m bench.bench_integrity --quick    # 5,000 × 256

Floor: np.load of the whole acts file (reading its bytes from the page cache). Figures:
- open, cold: the first check of the core files in a process (sha256 of every byte);
- open, warm: a later check in the same process while inode, size, mtime and ctime are unchanged
  (the memo answers from one stat per file): what every Streamlit rerun and neuron switch pays;
- neuron switch: read_array(mmap) of acts and topk_maps (checked through the memo) and one neuron's
  column and maps, as the neuron page does;
- a lazily added metric matrix read and checked (N × C float64).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import ratio_report
from neurodash import cache
from neurodash.cache import CacheDir

CORE = ("acts.npy", "topk_maps.npy", "topk_ids.npy", "concepts.npy")


def build(path: Path, n: int, N: int, C: int) -> CacheDir:
    rng = np.random.default_rng(0)
    c = CacheDir(path)
    with c.stream_array("acts.npy", (n, N), np.float32) as mm:
        for s in range(0, n, 4096):
            mm[s:s + 4096] = rng.standard_normal((min(4096, n - s), N), dtype=np.float32)
    c.write_array("topk_maps.npy", rng.standard_normal((N, 20, 7, 7)).astype(np.float16))
    c.write_array("topk_ids.npy", rng.integers(0, n, (N, 20)))
    c.write_array("concepts.npy", rng.random((n, C)) < 0.02)
    c.write_array("metrics/iou_adefault.npy", rng.random((N, C)))
    return c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, N, C = (5_000, 256, 100) if args.quick else (50_000, 512, 1_000)
    with tempfile.TemporaryDirectory() as d:
        c = build(Path(d) / "ws", n, N, C)
        import os
        import time
        # settle the files (the memo does not trust a stamp within RACY_NS of the last write)
        old = time.time_ns() - 10 * cache.RACY_NS
        for f in Path(d, "ws").rglob("*.npy"):
            os.utime(f, ns=(old, old))
        cache.RACY_NS = 0  # ctime cannot be set back; the bench measures a settled cache

        def cold():
            cache._PROCESS_MEMO = cache.HashMemo()
            assert c.problems(only=CORE) == []

        def warm():
            assert c.problems(only=CORE) == []

        def switch():
            j = int(np.random.default_rng().integers(0, N))
            acts = c.read_array("acts.npy", mmap=True)
            maps = c.read_array("topk_maps.npy", mmap=True)
            return np.asarray(acts[:, j]).sum() + maps[j].astype(np.float32).sum()

        def metric():
            return c.read_array("metrics/iou_adefault.npy")

        cold()  # prime page cache
        size = (Path(d) / "ws" / "acts.npy").stat().st_size
        print(f"acts {n} × {N} float32 = {size / 1e6:.0f} MB; core files {CORE}")
        ratio_report("np.load(acts)", {
            "np.load(acts)": lambda: np.load(Path(d) / "ws" / "acts.npy"),
            "open, cold (sha256 of core files)": cold,
            "open, warm (memo: one stat a file)": warm,
            "neuron switch (checked mmap reads)": switch,
            "metric matrix read + check": metric,
        }, repeats=5, title="integrity checks")


if __name__ == "__main__":
    main()
