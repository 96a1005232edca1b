"""Background jobs: progress while running, Cancel stops the work, the result shows after."""

import time

from streamlit.testing.v1 import AppTest


def _app():
    import time

    import streamlit as st

    from neurodash.progress import Cancelled
    from neurodash.ui import jobs

    def work(progress, cancel):
        for i in range(400):  # ~20 s unless cancelled
            if cancel.is_set():
                raise Cancelled()
            progress(i / 400, f"step {i}")
            time.sleep(0.05)
        return "finished"

    if st.button("start"):
        jobs.start("t", work)
    done = jobs.watch("t", "Working")
    if done is not None:
        st.write(f"state: {done['job'].state}")


def _state(at):
    return [m.value for m in at.markdown if str(m.value).startswith("state:")]


def test_cancel_stops_a_running_job():
    at = AppTest.from_function(_app, default_timeout=30)
    at.run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.get("progress"), "no progress bar while the job runs"
    assert not _state(at)
    at.button(key="nd__job_t_cancel").click().run()
    t0 = time.monotonic()
    while not _state(at) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
        at.run()
    assert _state(at) == ["state: cancelled"]
