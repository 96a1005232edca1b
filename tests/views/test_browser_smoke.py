"""Real-browser smoke test: `streamlit run app.py` + Debian's Chromium (Playwright, no browser download).

Fresh cache root: the app precomputes the small default shapes world itself (progress bar), then a
deep link must open neuron 3 with its images and charts, and a small BE must show its histogram.
Fails (never skips) when Chromium is missing: CI installs it.
"""

from tests.views.browser import OUTPUT, chromium_page, serve_app, wait_idle, wait_neuron_rendered

PROBE_SIZE = 300
NEURON = 3


def test_deep_link_neuron_images_charts_and_be(tmp_path):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with serve_app(tmp_path, PROBE_SIZE) as url, chromium_page(height=2000) as page:
        page.goto(f"{url}/neuron?model=shapes-cnn&layer=block4&neuron={NEURON}&metric=iou")
        # first open: the app precomputes the workspace (progress bar), then renders the neuron
        wait_neuron_rendered(page, NEURON, images=8, charts=2, timeout_ms=240_000)
        wait_idle(page)
        assert f"neuron={NEURON}" in page.url, page.url  # the URL still names the view

        # a small BE: K = 20 resamples
        k = page.get_by_label("K resamples")
        k.fill("20")
        k.press("Enter")
        page.get_by_role("button", name="Run BE").click()
        page.get_by_text("Prediction set:").wait_for(timeout=120_000)
        wait_idle(page)
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                     .some(c => (c.textContent || '').includes('BE winners'))""", timeout=60_000)
        page.get_by_text("Thm 4.1 coverage bound").wait_for(timeout=10_000)
        shot = OUTPUT / "browser_smoke_neuron.png"
        page.screenshot(path=str(shot), full_page=True, animations="disabled")
        assert shot.stat().st_size > 10_000
        assert not page.get_by_test_id("stException").count(), "the page shows a traceback"
