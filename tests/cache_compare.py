"""Comparing two workspace caches file for file, bit for bit (sharded vs single-process runs)."""
import json

import numpy as np


def cache_arrays(ws) -> dict[str, np.ndarray]:
    """Every array of a workspace cache (core files and the metric matrices written with them)."""
    out = {}
    for name in ws.cache.manifest():
        if name.endswith(".npy"):
            out[name] = np.load(ws.cache.path / name, allow_pickle=False)
    return out


def assert_same_cache(a, b):
    arrays_a, arrays_b = cache_arrays(a), cache_arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        x, y = arrays_a[name], arrays_b[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), f"{name} differs"
    meta_a, meta_b = (json.loads((w.cache.path / "meta.json").read_text()) for w in (a, b))
    for m in (meta_a, meta_b):
        m.pop("created")
        m.pop("build", None)  # a per-build id
    assert meta_a == meta_b
