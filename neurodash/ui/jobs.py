"""Background jobs with a live progress bar and a Cancel button (renders, long SIEVE runs).

The work runs in a `neurodash.progress.Job` thread; a fragment polls it twice a second (only the fragment
reruns, the page stays), and when the job ends the whole page reruns to show its result.
"""

from __future__ import annotations

import streamlit as st

from neurodash.progress import Job

_PREFIX = "nd__job_"


def start(name: str, work, **meta) -> None:
    """Start work(progress, cancel) in the background, replacing a finished job of the same name."""
    old = st.session_state.get(_PREFIX + name)
    if old is not None and not old["job"].done():
        old["job"].cancel()
    st.session_state[_PREFIX + name] = {"job": Job(work), "meta": meta}


def clear(name: str) -> None:
    st.session_state.pop(_PREFIX + name, None)


def watch(name: str, label: str):
    """While the job runs: a progress bar and Cancel (returns None). After: {"job", "meta"} or None."""
    entry = st.session_state.get(_PREFIX + name)
    if entry is None:
        return None
    if not entry["job"].done():
        _poll(name, label)
        return None
    return entry


@st.fragment(run_every=0.5)
def _poll(name: str, label: str) -> None:
    entry = st.session_state.get(_PREFIX + name)
    if entry is None:
        return
    job = entry["job"]
    fraction, message = job.progress
    st.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
    if st.button("Cancel", key=f"{_PREFIX}{name}_cancel"):
        job.cancel()
        st.caption("cancelling at the next step…")
    if job.done():
        st.rerun()


def watch_job(job, label: str, key: str) -> bool:
    """A progress bar for a Job that is not the session's own (e.g. shared by sessions); True when done."""
    if job.done():
        return True
    _poll_job(job, label, key)
    return False


@st.fragment(run_every=0.5)
def _poll_job(job, label: str, key: str) -> None:
    fraction, message = job.progress
    st.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
    if job.done():
        st.rerun()
