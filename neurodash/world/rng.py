"""Counter-based random numbers: uniform(seed, image ids, fields) without a per-image generator.

A scene must depend only on (seed, image index) so that a big probe can be rendered in chunks and
any single image re-rendered alone. A stateless hash (splitmix64 finaliser) of (seed, index, field)
gives that, fully vectorised and independent of numpy's generator streams.
"""
from __future__ import annotations

import zlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective avalanche on uint64 (wrap-around is intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def stream_key(seed: int, salt: str = "") -> np.uint64:
    """A 64-bit key for (seed, salt): different salts give unrelated streams for the same seed."""
    base = np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
    salt_code = np.uint64(zlib.crc32(salt.encode("utf-8")))
    with np.errstate(over="ignore"):
        return _mix(_mix(base + _GOLDEN) ^ ((salt_code + np.uint64(1)) * _GOLDEN))[0]


def uniform(key: np.uint64, ids: np.ndarray, n_fields: int, field_offset: int = 0) -> np.ndarray:
    """Floats in [0, 1) of shape (len(ids), n_fields); entry (i, f) depends only on (key, ids[i], f)."""
    ids = np.asarray(ids, dtype=np.uint64)
    fields = np.arange(field_offset, field_offset + n_fields, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(key ^ ((ids[:, None] + np.uint64(1)) * _GOLDEN)) + (fields[None, :] + np.uint64(1)) * _M2
        x = _mix(x)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
