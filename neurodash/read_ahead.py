"""Read the next item of an iterator on a background thread while the caller works on this one.

Extraction alternates rendering or decoding a chunk (numpy, mostly one core, the GIL released in
its array work) with a forward pass (torch, every core): reading chunk i+1 during the forward pass
of chunk i hides most of the reading. One item ahead keeps memory at two chunks.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """The items of ``items`` in order, each produced while the caller holds the previous one.

    An exception raised while producing an item is raised here when that item is due. Closing the
    returned generator (or leaving its loop early) stops the reading after the item in flight."""
    source = iter(items)
    lock = threading.Lock()  # the source is advanced by one thread at a time

    def produce():
        with lock:
            return next(source, _DONE)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(produce)
        try:
            while True:
                item = pending.result()
                if item is _DONE:
                    return
                pending = pool.submit(produce)
                yield item
        finally:
            pending.cancel()
            close = getattr(source, "close", None)
            if close is not None:
                with lock:  # after the item in flight: a generator cannot be closed while running
                    close()
