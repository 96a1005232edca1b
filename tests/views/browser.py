"""Helpers to drive the real app: a headless `streamlit run app.py` and Debian's Chromium via Playwright.

Used by the browser smoke test and by bench/bench_ui.py. Never downloads a browser: Chromium must
be at /usr/bin/chromium (CI installs Debian's package).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = ROOT / "tests" / "views" / "_output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(home: str | os.PathLike, probe_size: int, *, timeout: float = 60.0, app: str = "app.py"):
    """Start the app (or another script, e.g. bench/floor_app.py) headless on a free port; yields its
    base URL; stops the whole process group."""
    port = free_port()
    env = dict(os.environ, NEURODASH_HOME=str(home), NEURODASH_PROBE_SIZE=str(probe_size))
    Path(home).mkdir(parents=True, exist_ok=True)
    log = open(Path(home) / f"streamlit_{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer /_stcore/health within {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


@contextlib.contextmanager
def chromium_page(width: int = 1500, height: int = 1100):
    """A Playwright page in Debian's headless Chromium; fails when Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                                "no browser is downloaded")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app's script run has finished (the running-man status widget is gone)."""
    page.wait_for_timeout(150)  # the status widget appears a moment after a rerun starts
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


IMAGES_LOADED_JS = """(n) => {
  const imgs = Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img'));
  return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""

# Plotly charts (other pages) once they have drawn their marks, and the Neuron page's static SVG charts
# (images with an inline SVG source) once decoded.
CHARTS_DRAWN_JS = """(n) => {
  const main = '[data-testid="stMain"] ';
  const plotly = Array.from(document.querySelectorAll(main + '[data-testid="stPlotlyChart"]'));
  const svg = Array.from(document.querySelectorAll(main + '[data-testid="stImage"] img[src^="data:image/svg+xml"]'));
  const drawn = plotly.every(c => c.querySelector('.main-svg g.trace') !== null)
    && svg.every(i => i.complete && i.naturalWidth > 0);
  return plotly.length + svg.length >= n && drawn;
}"""


def wait_neuron_rendered(page, neuron: int, *, images: int, charts: int, timeout_ms: int = 120_000) -> None:
    """Wait for the Neuron page of `neuron`: its header, `images` loaded images and `charts` drawn charts."""
    page.get_by_role("heading", name=f"Neuron {neuron} ·").wait_for(timeout=timeout_ms)
    page.wait_for_function(IMAGES_LOADED_JS, arg=images, timeout=timeout_ms)
    page.wait_for_function(CHARTS_DRAWN_JS, arg=charts, timeout=timeout_ms)


def open_metric_chooser(page) -> None:
    """Open the sidebar's metric list: its popover ("Metric: …") first, unless it is open already."""
    box = page.get_by_role("combobox", name="Metric (the explanation's)")
    if not box.is_visible():
        page.get_by_role("button", name="Metric:").click()
    box.click()


def shoot(page, name: str) -> "Path":
    """A full-page screenshot once images are loaded, into tests/views/_output/<name>.png."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.wait_for_function("""() => Array.from(document.querySelectorAll('img'))
                                       .every(i => i.complete)""", timeout=30_000)
    except Exception:  # noqa: BLE001 - a screenshot of a page still loading is still a screenshot
        pass
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    assert path.stat().st_size > 10_000
    return path
