
import numpy as np
import pytest

from neurodash.cache import CacheDir, CacheError, cache_root, stable_hash


def test_cache_root_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURODASH_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x"
    assert cache_root(tmp_path / "y") == tmp_path / "y"
    monkeypatch.delenv("NEURODASH_HOME")
    assert cache_root().parts[-2:] == (".cache", "neurodash")


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_roundtrip_and_manifest(tmp_path):
    c = CacheDir(tmp_path / "ws")
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    c.write_array("acts.npy", a)
    c.write_json("r/x.json", {"v": 1.5})
    np.testing.assert_array_equal(c.read_array("acts.npy"), a)
    np.testing.assert_array_equal(c.read_array("acts.npy", mmap=True), a)
    assert c.read_json("r/x.json") == {"v": 1.5}
    assert c.problems() == []
    m = c.manifest()
    assert m["acts.npy"]["shape"] == [3, 4] and m["acts.npy"]["dtype"] == "float32"
    # no temp files left behind by the atomic writes
    assert not [p for p in (tmp_path / "ws").rglob("*.tmp")]


def test_stream_array_appears_only_when_complete(tmp_path):
    c = CacheDir(tmp_path / "ws")
    with pytest.raises(RuntimeError):
        with c.stream_array("big.npy", (10, 3), np.float32) as mm:
            mm[:5] = 1
            raise RuntimeError("crash halfway")
    assert not (tmp_path / "ws" / "big.npy").exists() and not c.has("big.npy")
    with c.stream_array("big.npy", (10, 3), np.float32) as mm:
        mm[:] = 2
    assert c.read_array("big.npy").sum() == 60


def test_truncated_and_corrupted_files_are_detected(tmp_path):
    c = CacheDir(tmp_path / "ws")
    c.write_array("a.npy", np.ones((100, 10)))
    c.write_array("b.npy", np.ones(5))
    f = tmp_path / "ws" / "a.npy"
    f.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(CacheError, match="truncated"):
        c.read_array("a.npy")
    b = tmp_path / "ws" / "b.npy"
    raw = bytearray(b.read_bytes())
    raw[-1] ^= 0xFF
    b.write_bytes(bytes(raw))
    probs = c.problems()
    assert any("a.npy" in p for p in probs) and any("b.npy checksum" in p for p in probs)
    assert "z.npy not in manifest" in c.problems(required=("z.npy",))


def test_clear_removes_data(tmp_path):
    c = CacheDir(tmp_path / "ws")
    c.write_array("a.npy", np.ones(3))
    c.clear()
    assert c.manifest() == {} and c.problems() == ["no manifest"]
    with pytest.raises(CacheError):
        c.read_array("a.npy")
