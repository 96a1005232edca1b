"""Extraction benchmarks (printed as ratios to a floor measured in the same run).

1. Throughput: extract() (hook + pooling + running top-k with maps + streaming to a memmap) against a
   bare forward pass of the whole model over the same in-memory batches (the floor). Target: the
   extraction takes at most 1/0.9 of the floor's time (throughput ratio ≥ 0.9). extract() stops the
   forward at the layer, so for an early layer it can beat the floor.
2. Peak RSS of a full `precompute` of the shapes world at two probe sizes (each in a fresh process):
   it must not grow with n beyond the (small, n×N) activation and label arrays.
3. Wall time of `python -m neurodash precompute` from nothing (fresh NEURODASH_HOME), as a ratio to
   a floor: the bare forward pass over the same number of world images, measured here.

Usage: python bench/bench_extract.py [--quick]
Without the shipped shapes-CNN weights (assets/shapes_cnn.safetensors) a random-init CNN of the same
architecture is used (the timing does not depend on the weights) and the lines say so.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import ratio_report

from neurodash import extract as ex
from neurodash import world
from neurodash.models import LayerReader, load_model
from neurodash.probes import ArrayProbe
from neurodash.recipe import DEFAULT_PROBE_N


def cnn_weights(tmp: Path) -> str | None:
    from neurodash.world import cnn
    if cnn.CNN_WEIGHTS.is_file():
        return None
    from safetensors.torch import save_file
    path = tmp / "random_cnn.safetensors"
    save_file(cnn.ShapesCNN(len(world.vocabulary())).state_dict(), str(path))
    print(f"(no shipped CNN weights: using a random-init ShapesCNN at {path})")
    return str(path)


def throughput(model: str, layer: str, images: np.ndarray, batch: int, weights=None, repeats=3):
    lm = load_model(model, weights=weights, device="cpu")
    reader = LayerReader(lm, layer)
    probe = ArrayProbe(images)
    n = len(images)
    n_neurons, _ = ex.probe_shape(reader, probe)
    tmp = tempfile.NamedTemporaryFile(suffix=".npy", delete=False)
    out = np.lib.format.open_memmap(tmp.name, mode="w+", dtype=np.float32, shape=(n, n_neurons))

    def bare():
        with torch.inference_mode():
            for _, im in probe.chunks(batch):
                lm.module(lm.to_input(im))

    def extraction():
        ex.extract(reader, probe, out, k=20, batch=batch)

    name = f"extract {model}:{layer}"
    ratios = ratio_report("bare_forward", {"bare_forward": bare, name: extraction},
                          repeats=repeats, targets={name: 1 / 0.9},
                          title=f"throughput {model}:{layer}, n={n}, batch={batch} (wall clock)")
    wall = 1 / ratios[name]
    # CPU time of this process: on a shared machine a neighbour's burst inflates wall time but not
    # ours; with one torch thread it is the cleanest measure of the work each side does.
    cpu = {"bare_forward": float("inf"), name: float("inf")}
    for _ in range(repeats):
        for key, fn in (("bare_forward", bare), (name, extraction)):
            t0 = time.process_time()
            fn()
            cpu[key] = min(cpu[key], time.process_time() - t0)
    print(f"  CPU time: bare {cpu['bare_forward']:.3f} s, extract {cpu[name]:.3f} s")
    print(f"  throughput ratio (bare / extract): wall {wall:.2f}, CPU {cpu['bare_forward'] / cpu[name]:.2f}"
          "  (target >= 0.9)")
    os.unlink(tmp.name)
    return {"wall": wall, "cpu": cpu["bare_forward"] / cpu[name]}


_CHILD = r"""
import re, sys, time
t = time.perf_counter()
import torch, neurodash.workspace, neurodash.sieve  # the fixed cost: imports (torch alone is ~0.5 GB)
from neurodash.cli import main

def status(key):
    return float(re.search(key + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) / 1024

base = status("VmRSS")
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
    reset = True
except OSError:
    reset = False
rc = main(sys.argv[1:])
print("BENCH", time.perf_counter() - t, status("VmHWM"), base, reset, file=sys.stderr)
sys.exit(rc)
"""


def run_precompute(n: int | None, weights, home: Path) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, RSS after imports MiB) of a fresh `precompute` child process.
    The peak is reset after the imports, so it is the peak of the computation itself."""
    args = ["precompute"] + (["--weights", weights] if weights else []) + (["--probe-n", str(n)] if n else [])
    env = {**os.environ, "NEURODASH_HOME": str(home)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"precompute failed: {p.stderr[-2000:]}")
    _, _inner, peak, base, reset = [l for l in p.stderr.splitlines() if l.startswith("BENCH")][-1].split()
    if reset != "True":
        print("  (could not reset the peak RSS counter: peaks include the imports)")
    return wall, float(peak), float(base)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads for the throughput runs (1: least disturbed by neighbours "
                         "on a shared machine; both sides of each ratio use the same)")
    ap.add_argument("--only-throughput", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    weights = cnn_weights(tmp)
    repeats = 1 if a.quick else 5
    results = {}

    images, _, _ = world.sample(256 if a.quick else 1024, 0, masks=False)
    results["throughput_shapes_block4"] = throughput("shapes-cnn", "block4", images, 64, weights, repeats)
    results["throughput_shapes_block2"] = throughput("shapes-cnn", "block2", images, 64, weights, repeats)
    rn = np.random.default_rng(0).integers(0, 256, (32 if a.quick else 64, 224, 224, 3), dtype=np.uint8)
    results["throughput_resnet18_layer4"] = throughput("resnet18", "layer4", rn, 32, "random", repeats)

    if a.only_throughput:
        print("\n" + json.dumps(results))
        return
    torch.set_num_threads(os.cpu_count() or 1)

    print("\n== peak RSS of a full precompute (fresh process each)")
    sizes = (500, 2000) if a.quick else (1000, 4000)
    rss = {}
    for n in sizes:
        wall, peak, base = run_precompute(n, weights, tmp / f"home_rss_{n}")
        rss[n] = peak
        print(f"  n={n:5d}: peak RSS during precompute {peak:7.1f} MiB (after imports {base:.1f} MiB; "
              f"wall {wall:.1f} s)")
    print(f"  growth {sizes[0]} -> {sizes[1]}: {rss[sizes[1]] - rss[sizes[0]]:+.1f} MiB "
          f"({rss[sizes[1]] / rss[sizes[0]]:.3f}x) for {sizes[1] / sizes[0]:.0f}x the images")
    results["rss_mib"] = rss

    print(f"\n== `python -m neurodash precompute` from nothing (default probe n={DEFAULT_PROBE_N})")
    lm = load_model("shapes-cnn", weights=weights, device="cpu")
    probe_images, _, _ = world.sample(DEFAULT_PROBE_N, 0, masks=False)

    def floor():
        with torch.inference_mode():
            for s in range(0, DEFAULT_PROBE_N, 64):
                lm.module(lm.to_input(probe_images[s:s + 64]))
    t0 = time.perf_counter()
    floor()
    floor_s = time.perf_counter() - t0
    wall, peak, _ = run_precompute(None, weights, tmp / "home_default")
    print(f"  floor (bare forward over {DEFAULT_PROBE_N} world images): {floor_s:.2f} s")
    print(f"  precompute from nothing: {wall:.1f} s wall ({wall / floor_s:.1f}x floor), peak RSS {peak:.0f} MiB"
          f"  target < 60 s: {'met' if wall < 60 else 'MISSED'}")
    results["precompute_default_s"] = wall
    results["precompute_floor_s"] = floor_s
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
