"""Dashboard speed in Chromium, against the issue-13 targets, with Streamlit's own rerun floor.

    python -m bench.bench_ui [--probe-size 2000] [--repeats 5] [--home DIR]

Starts `streamlit run app.py` headless (a fresh cache root unless --home), then times, from the
user's action to the rendered result (the images inside the viewport loaded, charts drawn, the
script run finished):
  - first content:    page.goto on a cold server until any main-area content shows (target ≤ 2 s);
  - first neuron:     until the first neuron is rendered (includes the precompute on a fresh root);
  - switch_typed:     a neuron number typed in the sidebar + Enter (target median ≤ 0.5 s);
  - switch_plus:      the number input's "+" (target ≤ 0.5 s);
  - switch_next/prev: the next / prev buttons (target ≤ 0.5 s);
  - metric change:    the sidebar metric iou → recall and back, until the header shows it (≤ 1 s);
  - shared link:      a fresh tab opening a deep link to another neuron (≤ 2 s);
  - verify:           Verify page, one concept, m = 20, world renderer: click to verdict (≤ 10 s);
  - floor:            a rerun of the same neuron's page that redraws the same images and charts (the
                      heatmap toggle): Streamlit's own cost of a page rerun here.
Then Streamlit's floor for each target: bench/floor_app.py (a number input, a header, 12 ready tiles,
2 small static SVG charts like the Neuron page's, nothing computed) timed the same way on its own cold server: its first
content, its "+" switch, a fresh browser opening its deep link, and the "+" switch when the unit's
view is one st.fragment (a fragment rerun: the floor of a fragment-based switch). A figure near its floor has
nothing left to gain in the app; the gap between them is what the dashboard itself costs.
Each figure prints its median and min over the repeats and its ratio to the floor. Report
`uptime` with it: figures are comparable only when the load average is < 1.
"Script run finished" is the server's own end-of-run message (ForwardMsg.script_finished, read from
the page's websocket), not a fixed pause: `--fixed-wait` times the older way (a 150 ms pause, then the
status widget gone; the widget only shows for runs over 500 ms), for comparison with earlier figures.
Needs Debian's Chromium at /usr/bin/chromium (never downloads a browser).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from tests.views.browser import CHARTS_DRAWN_JS, chromium_page, open_metric_chooser, serve_app, wait_idle

FLOOR_APP = "bench/floor_app.py"

IMAGES = 12  # the Neuron page's default k
# What a user sees: the images inside the viewport are loaded (Chromium loads the ones below the fold
# lazily, when scrolled to, so waiting for all of them measures the lazy-load delay, not the app).
VISIBLE_IMAGES_JS = """() => {
  const imgs = Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img'));
  const seen = imgs.filter(i => i.getBoundingClientRect().top < window.innerHeight);
  return seen.length > 0 && seen.every(i => i.complete && i.naturalWidth > 0);
}"""
CHARTS = 2
TARGETS = {"switch_typed": 0.5, "switch_plus": 0.5, "switch_next": 0.5, "switch_prev": 0.5, "metric_change": 1.0,
           "shared_link": 2.0, "verify_one_concept": 10.0, "first_content": 2.0}


class ScriptRuns:
    """Counts the script runs (whole app or fragment) the server reported finished to one page."""

    def __init__(self, page):
        self.finished = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, (bytes, bytearray)):
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(bytes(payload))
        except Exception:  # noqa: BLE001 - not a ForwardMsg: not ours to count
            return
        if msg.WhichOneof("type") == "script_finished":
            self.finished += 1


_RUNS: dict[int, ScriptRuns] = {}
FIXED_WAIT = False  # --fixed-wait: the older end-of-run test (see the module's docstring)


def watch_runs(page) -> None:
    """Count this page's finished script runs from now on (call before its first goto)."""
    _RUNS[id(page)] = ScriptRuns(page)


def _finished(page) -> int:
    return _RUNS[id(page)].finished if id(page) in _RUNS else 0


def _rendered(page, neuron: int, timeout_ms: int = 60_000, *, after: int = 0) -> None:
    """The neuron's page is shown: its heading, a script run finished after `after` runs, the images in
    the viewport loaded and the charts drawn."""
    page.get_by_role("heading", name=f"Neuron {neuron} ·").wait_for(timeout=timeout_ms)
    if FIXED_WAIT or id(page) not in _RUNS:
        wait_idle(page, timeout_ms)
    else:
        deadline = time.perf_counter() + timeout_ms / 1000
        while _finished(page) <= after:  # events are delivered while Playwright waits
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no script run finished within {timeout_ms} ms")
            page.wait_for_timeout(5)
    page.wait_for_function(VISIBLE_IMAGES_JS, timeout=timeout_ms)
    page.wait_for_function(CHARTS_DRAWN_JS, arg=CHARTS, timeout=timeout_ms)


def _timed(page, action, neuron: int) -> float:
    runs = _finished(page)
    t0 = time.perf_counter()
    action()
    _rendered(page, neuron, after=runs)
    took = time.perf_counter() - t0
    print(f"  … neuron {neuron}: {took * 1000:.0f} ms", file=sys.stderr, flush=True)
    return took


def _box(page):
    return page.get_by_label("Neuron (0…", exact=False)


def _typed(page, neuron: int) -> float:
    box = _box(page)
    box.fill(str(neuron))
    return _timed(page, lambda: box.press("Enter"), neuron)


def _plus(page, neuron: int) -> float:
    plus = page.get_by_test_id("stNumberInput").filter(has_text="Neuron (0…").get_by_test_id("stNumberInputStepUp")
    return _timed(page, lambda: plus.click(), neuron)


def _button(page, name: str, neuron: int) -> float:
    return _timed(page, lambda: page.get_by_role("button", name=name, exact=False).first.click(), neuron)


def _toggle(page, neuron: int) -> float:
    return _timed(page, lambda: page.get_by_text("activation heatmaps").click(), neuron)


def _metric(page, name: str, neuron: int) -> float:
    open_metric_chooser(page)  # timed from the choice, as before the chooser moved into a popover
    runs = _finished(page)
    t0 = time.perf_counter()
    page.get_by_role("option", name=name, exact=True).click()
    page.get_by_text(f"explanation ({name})").wait_for(timeout=60_000)
    _rendered(page, neuron, after=runs)
    return time.perf_counter() - t0


def _verify(page, url: str, neuron: int) -> float:
    page.goto(f"{url}/verify?neuron={neuron}")
    page.get_by_role("heading", name="Verify (SIEVE)").first.wait_for(timeout=120_000)
    wait_idle(page, 300_000)
    r = page.get_by_label("renders m")
    r.fill("20")
    r.press("Tab")
    t0 = time.perf_counter()
    page.get_by_role("button", name="Render and verify").click()
    page.get_by_text("verified", exact=True).or_(page.get_by_text("rejected", exact=True)).first.wait_for(
        timeout=300_000)
    return time.perf_counter() - t0


def _first_content(page, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.locator('[data-testid="stMain"] [data-testid="stElementContainer"]').first.wait_for(timeout=60_000)
    return time.perf_counter() - t0


def _fresh_browser_open(page, url: str, neuron: int) -> float:
    """A new browser context (no HTTP cache, no session): a colleague opening a shared link."""
    tab = page.context.browser.new_page(viewport={"width": 1500, "height": 1100})
    watch_runs(tab)
    try:
        t1 = time.perf_counter()
        tab.goto(url)
        _rendered(tab, neuron)
        return time.perf_counter() - t1
    finally:
        tab.close()


def streamlit_floor(home: str, repeats: int) -> dict[str, list[float]]:
    """bench/floor_app.py's first content (cold server), "+" switch and fresh-browser deep link."""
    out: dict[str, list[float]] = {"first_content": [], "switch_plus": [], "shared_link": [],
                                   "switch_plus_fragment": []}
    with serve_app(home, 0, app=FLOOR_APP) as url, chromium_page() as page:
        watch_runs(page)
        out["first_content"].append(_first_content(page, f"{url}/?neuron=0"))
        _rendered(page, 0)
        for r in range(repeats):
            out["switch_plus"].append(_plus(page, r + 1))
        for r in range(repeats):
            out["shared_link"].append(_fresh_browser_open(page, f"{url}/?neuron={40 + r}", 40 + r))
        runs = _finished(page)
        page.goto(f"{url}/?neuron=60&fragment=1")
        _rendered(page, 60, after=runs)
        for r in range(repeats):
            out["switch_plus_fragment"].append(_plus(page, 61 + r))
    return out


def _line(name: str, xs: list[float], floor: float) -> str:
    med = statistics.median(xs)
    target = TARGETS.get(name)
    verdict = "" if target is None else f"  target ≤ {target:g} s: {'met' if med <= target else 'MISSED'}"
    return (f"{name:20s} median {med * 1000:7.0f} ms  min {min(xs) * 1000:7.0f} ms  "
            f"ratio to floor {med / floor:5.2f}  (n={len(xs)}){verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe-size", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--home", help="reuse this cache root (default: a fresh temporary one)")
    ap.add_argument("--no-verify", action="store_true", help="skip the Verify timing")
    ap.add_argument("--fixed-wait", action="store_true",
                    help="end of a run = a 150 ms pause, then no status widget (the figures before issue 13's fragment)")
    args = ap.parse_args()
    global FIXED_WAIT
    FIXED_WAIT = args.fixed_wait
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, serve_app(args.home or tmp, args.probe_size) as url, \
            chromium_page() as page:
        watch_runs(page)
        t0 = time.perf_counter()
        first_content = _first_content(page, f"{url}/neuron?neuron=0")
        _rendered(page, 0, timeout_ms=900_000)
        first = time.perf_counter() - t0
        _typed(page, 1)  # warm the process (imports, first card)
        _typed(page, 0)
        runs: dict[str, list[float]] = {k: [] for k in ("switch_typed", "switch_plus", "switch_next", "switch_prev",
                                                        "metric_change", "floor")}
        j = 0
        for r in range(args.repeats):
            j = 2 + 3 * r
            runs["switch_typed"].append(_typed(page, j))
            runs["floor"].append(_toggle(page, j))
            runs["switch_plus"].append(_plus(page, j + 1))
            runs["switch_next"].append(_button(page, "next unit", j + 2))
            runs["switch_prev"].append(_button(page, "previous unit", j + 1))
            runs["floor"].append(_toggle(page, j + 1))
            runs["metric_change"].append(_metric(page, "recall", j + 1))
            runs["metric_change"].append(_metric(page, "iou", j + 1))
        shared = [_fresh_browser_open(page, f"{url}/neuron?model=shapes-cnn&layer=block4&neuron={40 + r}&metric=iou",
                                      40 + r) for r in range(args.repeats)]
        verify = [] if args.no_verify else [_verify(page, url, 0)]
    with tempfile.TemporaryDirectory() as floor_home:
        floors = streamlit_floor(floor_home, args.repeats)
    floor = statistics.median(runs["floor"])
    what = "from an existing cache" if args.home else f"precompute of a {args.probe_size}-image world + render"
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (figures comparable when < 1); "
          f"at end: {os.getloadavg()[0]:.2f}")
    print(f"first_content        {first_content * 1000:7.0f} ms  target ≤ 2 s: {'met' if first_content <= 2 else 'MISSED'}")
    print(f"first neuron ({what}): {first:.1f} s")
    for name, xs in runs.items():
        print(_line(name, xs, floor))
    print(_line("shared_link", shared, floor))
    if verify:
        print(_line("verify_one_concept", verify, floor) + "  (includes the keep-threshold job starting)")
    print(f"Streamlit's floor ({FLOOR_APP}: number input, header, 12 ready tiles, 2 SVG charts; nothing computed):")
    print(f"  first_content        {floors['first_content'][0] * 1000:7.0f} ms  (dashboard {first_content * 1000:.0f} ms)")
    for name, dash in (("switch_plus", runs["switch_plus"]), ("shared_link", shared),
                       ("switch_plus_fragment", runs["switch_plus"])):
        print(f"  {name:20s} median {statistics.median(floors[name]) * 1000:7.0f} ms  "
              f"min {min(floors[name]) * 1000:7.0f} ms  (dashboard median {statistics.median(dash) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
