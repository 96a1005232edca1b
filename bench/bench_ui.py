"""Neuron-switch time in Chromium: from the keypress that picks a neuron to its rendered images and charts.

    /work/venv/bin/python bench/bench_ui.py [--probe-size 2000] [--repeats 5] [--home DIR]

Starts `streamlit run app.py` headless on a fresh cache root (the app precomputes the shapes world
once), opens the Neuron page, then, with warm caches, times:
  - switch_new:  to a neuron not shown before in this server (its card is computed from the
                 workspace's cached metric matrices);
  - switch_seen: to a neuron shown before (every per-neuron result is in the app's caches);
  - floor:       a rerun of the same neuron's page that redraws the same images and charts
                 (the heatmap toggle), measured in the same run, interleaved with the switches.
Each figure is the minimum over the repeats (median in brackets), printed with its ratio to the floor.
Needs Debian's Chromium at /usr/bin/chromium (never downloads a browser).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from tests.views.browser import CHARTS_DRAWN_JS, IMAGES_LOADED_JS, chromium_page, serve_app, wait_idle

IMAGES = 12  # the Neuron page's default k
CHARTS = 2


def _rendered(page, neuron: int, timeout_ms: int = 60_000) -> None:
    page.get_by_role("heading", name=f"Neuron {neuron} ·").wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)
    page.wait_for_function(IMAGES_LOADED_JS, arg=IMAGES, timeout=timeout_ms)
    page.wait_for_function(CHARTS_DRAWN_JS, arg=CHARTS, timeout=timeout_ms)


def _switch(page, neuron: int) -> float:
    box = page.get_by_label("Neuron (0…", exact=False)
    box.fill(str(neuron))
    t0 = time.perf_counter()
    box.press("Enter")
    page.wait_for_timeout(0)
    _rendered(page, neuron)
    return time.perf_counter() - t0


def _toggle(page, neuron: int) -> float:
    t0 = time.perf_counter()
    page.get_by_text("activation heatmaps").click()
    page.wait_for_timeout(0)
    _rendered(page, neuron)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe-size", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--home", help="reuse this cache root (default: a fresh temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serve_app(args.home or tmp, args.probe_size) as url, \
            chromium_page() as page:
        t0 = time.perf_counter()
        page.goto(f"{url}/neuron?neuron=0")
        _rendered(page, 0, timeout_ms=600_000)
        first = time.perf_counter() - t0
        _switch(page, 1)  # warm the process (imports, first card)
        _switch(page, 0)
        new, seen, floor = [], [], []
        for r in range(args.repeats):
            target = 2 + r
            new.append(_switch(page, target))  # never shown before
            floor.append(_toggle(page, target))
            seen.append(_switch(page, 0))  # shown before
            floor.append(_toggle(page, 0))
        f = min(floor)
        what = "render from an existing cache" if args.home else f"precompute of a {args.probe_size}-image world + render"
        print(f"first open ({what}): {first:.1f} s")
        for name, xs in (("switch_new", new), ("switch_seen", seen), ("floor (same-page rerun)", floor)):
            print(f"{name:26s} {min(xs) * 1000:7.0f} ms  (median {statistics.median(xs) * 1000:.0f} ms)  "
                  f"ratio to floor {min(xs) / f:.2f}")


if __name__ == "__main__":
    main()
