"""Progress reports and cancellation, shared by extraction, SIEVE, generation and reports.

A progress callback is ``progress(fraction in [0, 1], message)``; a cancel token is anything with
``.is_set()`` (a ``threading.Event``). Long work calls ``report`` as it goes, hands ``span(...)`` to
the steps it delegates, and calls ``check(cancel)`` between steps, which raises ``Cancelled``.
``Job`` runs such work in a thread and tells "cancelled" from "failed" by that one exception.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

Progress = Callable[[float, str], None]


class Cancelled(RuntimeError):
    """The caller cancelled the work; nothing half-done was kept."""

    def __init__(self, message: str = "cancelled by the user"):
        super().__init__(message)


def report(progress: Optional[Progress], fraction: float, message: str) -> None:
    """Call progress (if any) with the fraction clipped to [0, 1]."""
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def span(progress: Optional[Progress], lo: float, hi: float, prefix: str = "") -> Optional[Progress]:
    """A callback mapping a step's [0, 1] onto [lo, hi] of the parent's (messages get `prefix`)."""
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * float(f), prefix + msg)


def check(cancel: Any, what: str = "") -> None:
    """Raise Cancelled when the cancel token is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled" if what else "cancelled by the user")


class Job:
    """Runs ``work(progress, cancel)`` in a background thread.

    Poll ``.progress`` ((fraction, message)) and ``.state`` ("running", "done", "failed",
    "cancelled"); ``.cancel()`` asks the work to stop at its next check; ``.result()`` waits and
    returns the value or raises the work's error.
    """

    def __init__(self, work: Callable[[Progress, threading.Event], Any], *, start: bool = True):
        self._work = work
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._progress = (0.0, "queued")
        self._result: Any = None
        self._error: Optional[BaseException] = None
        self.state = "queued"
        self._thread = threading.Thread(target=self._run, daemon=True)
        if start:
            self.start()

    def start(self) -> "Job":
        self.state = "running"
        self._thread.start()
        return self

    def _set_progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = (float(fraction), str(message))

    @property
    def progress(self) -> tuple[float, str]:
        with self._lock:
            return self._progress

    def _run(self) -> None:
        try:
            self._result = self._work(self._set_progress, self._cancel)
            self.state = "done"
        except Cancelled as err:
            self._error = err
            self.state = "cancelled"
        except BaseException as err:  # noqa: BLE001 - handed back to the caller through result()
            self._error = err
            self.state = "failed"

    def cancel(self) -> None:
        self._cancel.set()

    def done(self) -> bool:
        return not self._thread.is_alive() and self.state != "queued"

    def wait(self, timeout: Optional[float] = None) -> bool:
        self._thread.join(timeout)
        return self.done()

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    def result(self, timeout: Optional[float] = None) -> Any:
        if not self.wait(timeout):
            raise TimeoutError("the job is still running")
        if self._error is not None:
            raise self._error
        return self._result
