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
import logging
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from filelock import FileLock

# Bump when the meaning or layout of cached files changes: every cache then recomputes.
FORMAT_VERSION = 2

log = logging.getLogger("neurodash")

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


# A hash memo may skip re-hashing a file only when its inode, size, mtime AND ctime are unchanged:
# `cp -p`, `rsync -a`, `tar x` and `touch -d` restore an old mtime but cannot set ctime, which the
# kernel stamps on every write or metadata change. A stamp taken within RACY_NS of the file's ctime
# is not trusted ("racy", as git calls it): a second write in the same clock tick (ctime has the
# kernel's coarse granularity, up to a few ms; network file systems up to 1-2 s) would leave
# every field unchanged, so such a file is hashed again until its ctime is safely in the past.
RACY_NS = 2_000_000_000


def file_stamp(path: str | os.PathLike) -> dict:
    st = os.stat(path)
    return {"ino": st.st_ino, "size": st.st_size, "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns}


class HashMemo:
    """sha256 of files, remembered per resolved path with the file's (inode, size, mtime, ctime).

    ``path=None`` keeps the memo in this process only; otherwise it is a JSON file (loaded once,
    written by ``save()``), so a new process need not re-hash big unchanged files. Losing an entry
    (two processes saving at once) only costs a re-hash."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = None if path is None else Path(path)
        self._entries: dict[str, dict] | None = None
        self._dirty = False

    def _load(self) -> dict[str, dict]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    if isinstance(data, dict):
                        self._entries = {k: v for k, v in data.items() if isinstance(v, dict)}
                except (OSError, ValueError):
                    pass
        return self._entries

    def digest(self, path: str | os.PathLike) -> str:
        p = str(Path(path).resolve())
        stamp = file_stamp(p)
        entries = self._load()
        old = entries.get(p)
        if (old is not None and all(old.get(k) == v for k, v in stamp.items())
                and old.get("hashed_at", 0) - stamp["ctime"] >= RACY_NS):
            return old["sha256"]
        hashed_at = time.time_ns()
        digest = file_sha256(p)
        if file_stamp(p) == stamp:  # unchanged while we read it: remember it
            entries[p] = {**stamp, "sha256": digest, "hashed_at": hashed_at}
            self._dirty = True
        return digest

    def save(self) -> None:
        if self.path is not None and self._dirty:
            with contextlib.suppress(OSError):
                atomic_write_text(self.path, json.dumps(self._entries))
            self._dirty = False


_PROCESS_MEMO = HashMemo()  # cached files: verified once per process while they stay unchanged


def hash_memo(home: str | os.PathLike | None = None) -> HashMemo:
    """The persistent memo of input-file hashes under the cache root (``file_hashes.json``)."""
    return HashMemo(cache_root(home) / "file_hashes.json")


def memo_file_sha256(path: str | os.PathLike, home: str | os.PathLike | None = None) -> str:
    """sha256 of a (possibly large) input file; re-hashed unless inode, size, mtime and ctime all
    match the memo under the cache root (mtime alone is never trusted)."""
    memo = hash_memo(home)
    digest = memo.digest(path)
    memo.save()
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
    """One workspace's directory of arrays and JSON results, all listed in a checksummed manifest.

    Every read checks the file against the sha256 written with it (big files once per process while
    their inode, size, mtime and ctime stay the same, see `HashMemo`); a mismatch raises
    `CacheError`, and the caller recomputes and says so with `recomputed()`, which keeps the
    message in ``notices`` for the CLI and the UI to show."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.notices: list[str] = []

    # ---- manifest -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict]:
        try:
            data = json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

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

    def _checked(self, name: str) -> Path:
        """The file of ``name`` after checking it against its manifest entry (CacheError if not)."""
        entry = self.manifest().get(name)
        file = self.path / name
        if not isinstance(entry, dict) or not file.is_file():
            raise CacheError(f"{file} is missing from the cache")
        size = file.stat().st_size
        if size != entry.get("size"):
            raise CacheError(f"{file} is truncated or changed (size {size}, manifest says "
                             f"{entry.get('size')})")
        if _PROCESS_MEMO.digest(file) != entry.get("sha256"):
            raise CacheError(f"{file} does not match the checksum written with it (changed on disk)")
        return file

    def recomputed(self, name: str, err: Exception) -> None:
        """Say that a cached file failed its check and is being recomputed (log + ``notices``)."""
        msg = f"recomputed {name}: {err}"
        log.warning("%s", msg)
        if msg not in self.notices:
            self.notices.append(msg)

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
        file = self._checked(name)
        try:
            return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise CacheError(f"{file} cannot be read: {err}") from err

    # ---- JSON results -----------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> None:
        target = self.path / name
        atomic_write_text(target, json.dumps(obj, indent=1, sort_keys=True, default=_json_default))
        self._record(name, self._entry(target))

    def read_json(self, name: str) -> Any:
        file = self.path / name
        entry = self.manifest().get(name)
        if not isinstance(entry, dict):
            raise CacheError(f"{file} is missing from the cache manifest")
        try:
            raw = file.read_bytes()  # read once: the bytes hashed are the bytes parsed
        except OSError as err:
            raise CacheError(f"{file} cannot be read: {err}") from err
        if len(raw) != entry.get("size") or hashlib.sha256(raw).hexdigest() != entry.get("sha256"):
            raise CacheError(f"{file} does not match the checksum written with it (changed on disk)")
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError as err:
            raise CacheError(f"{file} cannot be read: {err}") from err

    # ---- integrity --------------------------------------------------------------------------------
    def problems(self, *, checksums: bool = True, required: tuple[str, ...] = (),
                 only: tuple[str, ...] | None = None) -> list[str]:
        """What does not match the manifest (empty when the directory can be trusted).

        ``only`` limits the check to those entries: lazily added files (metric matrices, renders)
        are checked when first read and recomputed on a mismatch, so opening a workspace need not
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
            size = entry.get("size") if isinstance(entry, dict) else None
            if not file.is_file():
                out.append(f"{name} missing")
            elif file.stat().st_size != size:
                out.append(f"{name} has {file.stat().st_size} bytes, manifest says {size}")
            elif checksums and _PROCESS_MEMO.digest(file) != entry.get("sha256"):
                out.append(f"{name} checksum mismatch")
        return out

    def clear(self) -> None:
        """Remove every recomputable file (the whole directory); annotations live elsewhere."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Remove the directory altogether (a build that failed leaves nothing behind)."""
        if self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
