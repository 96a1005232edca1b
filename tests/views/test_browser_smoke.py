"""Real-browser smoke test: `streamlit run app.py` + Debian's Chromium (Playwright, no browser download).

Fresh cache root: the app shows what it prepares at once and precomputes the small default shapes world
(progress with ETA); then a deep link opens neuron 3 with its header, images and charts; next/previous
switch units; a metric change drives the header; Measure AR runs on the Triage page; a one-concept
Verify shows its verdict; every page is screenshotted into tests/views/_output/.
Fails (never skips) when Chromium is missing: CI installs it.
"""

from tests.views.browser import (CHARTS_DRAWN_JS, OUTPUT, chromium_page, open_metric_chooser, serve_app, shoot, wait_idle,
                                 wait_neuron_rendered)

PROBE_SIZE = 300
NEURON = 3


def _no_traceback(page):
    assert not page.get_by_test_id("stException").count(), "the page shows a traceback"


def test_deep_link_navigation_metric_ar_verify(tmp_path):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with serve_app(tmp_path, PROBE_SIZE) as url, chromium_page(height=1600) as page:
        query = f"model=shapes-cnn&layer=block4&neuron={NEURON}&metric=iou"
        page.goto(f"{url}/neuron?{query}")
        # first open: content at once (what is being prepared), then the neuron
        page.get_by_text("Preparing the workspace").or_(page.get_by_text("Starting neurodash")).first.wait_for(
            timeout=30_000)
        wait_neuron_rendered(page, NEURON, images=8, charts=2, timeout_ms=240_000)
        wait_idle(page)
        assert f"neuron={NEURON}" in page.url, page.url
        page.get_by_text("explanation (iou)").wait_for(timeout=10_000)
        shoot(page, "neuron")

        # previous / next
        page.get_by_role("button", name="next unit").click()
        wait_neuron_rendered(page, NEURON + 1, images=8, charts=2)
        page.get_by_role("button", name="previous unit").click()
        wait_neuron_rendered(page, NEURON, images=8, charts=2)
        assert f"neuron={NEURON}" in page.url

        # the sidebar metric drives the header
        open_metric_chooser(page)
        page.get_by_role("option", name="recall", exact=True).click()
        page.get_by_text("explanation (recall)").wait_for(timeout=60_000)
        wait_idle(page)
        assert "metric=recall" in page.url
        _no_traceback(page)

        # Measure AR on the Triage page feeds the flags
        page.goto(f"{url}/triage?{query}")
        page.get_by_role("heading", name="Triage ·").wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_text("Activation Rate of each neuron's chosen concept").click()
        m = page.get_by_label("renders per concept m")
        m.fill("4")
        m.press("Enter")
        page.get_by_role("button", name="Measure AR (world renderer)").click()
        page.get_by_text("Evidence in the flags: band and selectivity, AR").wait_for(timeout=180_000)
        wait_idle(page)
        assert not page.get_by_text("Measuring the AR failed").count()
        _no_traceback(page)
        shoot(page, "triage")

        # a one-concept Verify: the verdict without waiting for the layer's keep-threshold
        page.goto(f"{url}/verify?{query}")
        page.get_by_role("heading", name="Verify (SIEVE)").wait_for(timeout=60_000)
        wait_idle(page, 180_000)
        r = page.get_by_label("renders m")
        r.fill("8")
        r.press("Tab")
        page.get_by_role("button", name="Render and verify").click()
        page.get_by_text("verified", exact=True).or_(page.get_by_text("rejected", exact=True)).first.wait_for(
            timeout=120_000)
        _no_traceback(page)
        shoot(page, "verify")

        # the other pages, each once it has drawn what it is for
        page.goto(f"{url}/layer?{query}")
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=180_000)
        page.wait_for_function(CHARTS_DRAWN_JS, arg=1, timeout=120_000)
        _no_traceback(page)
        shoot(page, "layer")
        page.goto(f"{url}/planner?{query}")
        page.wait_for_function(CHARTS_DRAWN_JS, arg=1, timeout=120_000)
        shoot(page, "planner")
        page.goto(f"{url}/coverage?{query}")
        k = page.get_by_label("K", exact=True)
        k.fill("10")
        k.press("Tab")
        page.get_by_role("button", name="Run BE on all").click()
        page.wait_for_function(CHARTS_DRAWN_JS, arg=1, timeout=180_000)
        wait_idle(page, 180_000)
        _no_traceback(page)
        shoot(page, "coverage")
