"""Keep freed temporaries in the process heap instead of handing them back to the kernel.

The statistics allocate many short-lived row-sized arrays (an argsort's result and buffer: 400 KB
for a 50,000-row column), which numpy cannot be given as outputs. glibc maps such blocks fresh and
unmaps them on free, so every call pays the kernel's page faults again; on a virtual machine that
costs more than the sort itself (measured: a stable uint16 argsort of 50,000 values at 12 ns an
element with fresh pages, 5 with reused ones; `bench/bench_stats.py` rank rows ~1.4x faster).
Blocks under MMAP_THRESHOLD come from the heap, and up to TRIM_THRESHOLD of freed heap is kept
for reuse; bigger arrays are still mapped and returned as before, so the memory kept is bounded.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD = 8 << 20
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Set glibc's thresholds once (no-op elsewhere, or when the user set MALLOC_* themselves).
    Returns whether they were set."""
    if any(k.startswith("MALLOC_") for k in os.environ) or os.environ.get("NEURODASH_KEEP_HEAP") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to tune
        return False
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
