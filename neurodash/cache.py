"""Content-hashed on-disk store for recomputable workspace data.

Layout under the cache root (``NEURODASH_HOME``, default ``~/.cache/neurodash``)::

    workspaces/<recipe key>/
        meta.json        recipe, fingerprint (weights hash + probe listing hash + format version), shapes
        manifest.json    every data file with its size, sha256, shape and dtype
        acts.npy ...     arrays written atomically (temp file + os.replace)
        metrics/ bootstrap/ ...   lazily added results, also listed in the manifest
    annotations/<recipe key>.json   triage notes: NOT under workspaces/, never touched by a recompute

A directory whose files do not match its manifest is never trusted: ``CacheDir.problems()`` names
what is wrong and the workspace recomputes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from filelock import FileLock

# Bump when the meaning or layout of cached files changes: every cache then recomputes.
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
META = "meta.json"


class CacheError(RuntimeError):
    """A cache file is missing, truncated or does not match its manifest."""


def cache_root(home: str | os.PathLike | None = None) -> Path:
    """The cache root: ``home`` if given, else $NEURODASH_HOME, else ~/.cache/neurodash."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("NEURODASH_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "neurodash"


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON-serialisable object with sorted keys (stable across runs and machines)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def memo_file_sha256(path: str | os.PathLike, home: str | os.PathLike | None = None) -> str:
    """sha256 of a (possibly large) file, memoised by (absolute path, size, mtime_ns) under the root."""
    p = Path(path).resolve()
    st = p.stat()
    memo_path = cache_root(home) / "file_hashes.json"
    stamp = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if stamp in memo:
        return memo[stamp]
    digest = file_sha256(p)
    memo[stamp] = digest
    with contextlib.suppress(OSError):
        atomic_write_text(memo_path, json.dumps(memo))
    return digest


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


class CacheDir:
    """One workspace's directory of arrays and JSON results, all listed in a checksummed manifest."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # ---- manifest -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict]:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}

    def _record(self, name: str, entry: dict) -> None:
        # Lazily added results may come from several sessions at once: lock the read-modify-write.
        with FileLock(str(self.path / ".manifest.lock"), timeout=60):
            manifest = self.manifest()
            manifest[name] = entry
            atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))

    def _entry(self, file: Path, **extra) -> dict:
        return {"size": file.stat().st_size, "sha256": file_sha256(file), **extra}

    def has(self, name: str) -> bool:
        return name in self.manifest() and (self.path / name).exists()

    # ---- arrays -----------------------------------------------------------------------------------
    def write_array(self, name: str, array: np.ndarray) -> None:
        array = np.asarray(array)
        target = self.path / name
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)
        self._record(name, self._entry(target, shape=list(array.shape), dtype=str(array.dtype)))

    @contextlib.contextmanager
    def stream_array(self, name: str, shape: tuple[int, ...], dtype) -> Iterator[np.memmap]:
        """A writable memory-mapped .npy that appears under ``name`` only once fully written."""
        target = self.path / name
        with atomic_path(target) as tmp:
            mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
            yield mm
            mm.flush()
            del mm
        self._record(name, self._entry(target, shape=list(shape), dtype=str(np.dtype(dtype))))

    def read_array(self, name: str, *, mmap: bool = False) -> np.ndarray:
        entry = self.manifest().get(name)
        file = self.path / name
        if entry is None or not file.exists():
            raise CacheError(f"{file} is missing from the cache")
        if file.stat().st_size != entry["size"]:
            raise CacheError(f"{file} is truncated or changed (size {file.stat().st_size}, "
                             f"manifest says {entry['size']})")
        try:
            return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise CacheError(f"{file} cannot be read: {err}") from err

    # ---- JSON results -----------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> None:
        target = self.path / name
        atomic_write_text(target, json.dumps(obj, indent=1, sort_keys=True, default=_json_default))
        if name != META:
            self._record(name, self._entry(target))

    def read_json(self, name: str) -> Any:
        file = self.path / name
        if name != META:
            entry = self.manifest().get(name)
            if entry is None or not file.exists() or file.stat().st_size != entry["size"]:
                raise CacheError(f"{file} is missing or does not match the manifest")
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CacheError(f"{file} cannot be read: {err}") from err

    # ---- integrity --------------------------------------------------------------------------------
    def problems(self, *, checksums: bool = True, required: tuple[str, ...] = (),
                 only: tuple[str, ...] | None = None) -> list[str]:
        """What does not match the manifest (empty when the directory can be trusted).

        ``only`` limits the check to those entries: lazily added files (metric matrices, renders)
        are size-checked when read and recomputed on a mismatch, so opening a workspace need not
        hash every one of them."""
        out: list[str] = []
        manifest = self.manifest()
        if not manifest:
            return ["no manifest"]
        for name in required:
            if name not in manifest:
                out.append(f"{name} not in manifest")
        for name, entry in manifest.items():
            if only is not None and name not in only:
                continue
            file = self.path / name
            if not file.exists():
                out.append(f"{name} missing")
            elif file.stat().st_size != entry["size"]:
                out.append(f"{name} has {file.stat().st_size} bytes, manifest says {entry['size']}")
            elif checksums and file_sha256(file) != entry["sha256"]:
                out.append(f"{name} checksum mismatch")
        return out

    def clear(self) -> None:
        """Remove every recomputable file (the whole directory); annotations live elsewhere."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
