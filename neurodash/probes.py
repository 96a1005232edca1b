"""Probe datasets: the shapes world (regenerated chunk-wise, never stored whole) and an image folder.

Both offer ``len(probe)``, ``images(ids)`` (uint8 (k,S,S,3)), ``chunks(batch)`` (start, images),
``listing_hash()`` (what the cache key uses) and ``labels`` (bool (n,C) or None) with ``label_names``.
The world probe also gives concept masks chunk-wise (``masks_chunks``) for pixel IoU.
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from neurodash.cache import HashMemo, stable_hash
from neurodash.checked_files import CheckedFiles, stays_inside
from neurodash.imagefiles import (ImageRefused, ProbeError, open_image, read_image, square,  # noqa: F401
                                  to_rgb8)


# ---- the shapes world -----------------------------------------------------------------------------

class WorldProbe:
    """n images of the shapes world; image i depends only on (seed, i), so any id is re-rendered."""

    kind = "world"
    has_masks = True

    def __init__(self, n: int, seed: int = 0, size: int = 64):
        if n < 1:
            raise ProbeError(f"probe size must be at least 1 (got {n})")
        from neurodash import world
        self.world, self.n, self.seed, self.size = world, int(n), int(seed), int(size)
        self.label_names = list(world.vocabulary())
        self._labels = None

    def __len__(self) -> int:
        return self.n

    def listing_hash(self, memo=None) -> str:
        version = getattr(self.world, "WORLD_VERSION", getattr(self.world, "__version__", ""))
        return stable_hash({"probe": "world", "n": self.n, "seed": self.seed, "size": self.size,
                            "world_version": version, "vocabulary": self.label_names})

    def _sample(self, start: int, m: int, masks: bool, images: bool = True):
        return self.world.sample(m, self.seed, size=self.size, start=start, masks=masks, images=images)

    def chunks(self, batch: int, *, masks: bool = False, start: int = 0,
               stop: int | None = None, images: bool = True) -> Iterator[tuple]:
        """(start, images) per chunk of ids [start, stop), or (start, images, labels, masks) when
        ``masks``; chunk starts are start, start + batch, ... (global ids). With masks,
        images=False gives None for the images and skips painting them (pixel IoU's second pass)."""
        stop = self.n if stop is None else min(stop, self.n)
        parts = []
        for s in range(start, stop, batch):
            m = min(batch, stop - s)
            pixels, labels, mk = self._sample(s, m, masks, images or not masks)
            parts.append(labels)
            yield (s, pixels, labels, mk) if masks else (s, pixels)
        if self._labels is None and start == 0 and stop == self.n:
            self._labels = np.concatenate(parts).astype(bool)  # a full pass rendered every label

    def images(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(ids), self.size, self.size, 3), np.uint8)
        for j, i in enumerate(ids):
            if not 0 <= i < self.n:
                raise IndexError(f"image id {i} outside the probe (0..{self.n - 1})")
            out[j] = self._sample(int(i), 1, False)[0][0]
        return out

    def masks(self, ids) -> np.ndarray:
        """bool (k,C,S,S) concept masks of the given images."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        return np.stack([self._sample(int(i), 1, True)[2][0] for i in ids]) if len(ids) else \
            np.zeros((0, len(self.label_names), self.size, self.size), bool)

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            parts = [self._sample(s, min(2048, self.n - s), False)[1]
                     for s in range(0, self.n, 2048)]
            self._labels = np.concatenate(parts).astype(bool)
        return self._labels


# ---- images already in memory ---------------------------------------------------------------------

class ArrayProbe:
    """Images already in memory (uint8 (n,H,W,3)) as a probe: the interface of WorldProbe /
    FolderProbe, for tests and benchmarks that feed extraction fixed arrays."""

    has_masks = False
    labels = None
    label_names: list = []

    def __init__(self, images: np.ndarray):
        self._images = images
        self.size = images.shape[1]

    def __len__(self):
        return len(self._images)

    def images(self, ids):
        return self._images[np.asarray(ids)]

    def chunks(self, batch, masks=False, start=0, stop=None, images=True):
        stop = len(self._images) if stop is None else min(stop, len(self._images))
        for s in range(start, stop, batch):
            yield s, self._images[s:min(s + batch, stop)]

    def listing_hash(self, memo=None):
        # the pixels are the listing: a cache keyed on it changes when the images do
        return "array:" + hashlib.sha256(np.ascontiguousarray(self._images).tobytes()).hexdigest()[:16]


# ---- an image folder ------------------------------------------------------------------------------

@dataclass
class FolderReport:
    """What a folder scan found: the images kept and every file skipped with its reason."""
    root: str
    n_files: int = 0
    n_images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for _, why in self.skipped:
            key = why.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        extra = ", ".join(f"{v} {k}" for k, v in sorted(reasons.items()))
        return (f"{self.root}: {self.n_images} images of {self.n_files} files"
                + (f"; skipped {len(self.skipped)} ({extra})" if self.skipped else ""))


class FolderProbe:
    """Every readable image under ``root`` (recursive, sorted by relative path), as size×size RGB.

    Unreadable files (corrupt, empty, not an image) are skipped and listed in ``report``.
    ``files``: the kept relative paths from an earlier scan (skips re-validating a cached probe).
    ``labels_csv``: optional CSV with a header ``file,<concept>,...`` and 0/1 values per image.
    Without one, an ImageNet-style folder (every image in a class sub-folder) is labelled by its
    class folders (neurodash.imagenet.folder_labels).
    """

    kind = "folder"
    has_masks = False

    def __init__(self, root: str | os.PathLike, size: int = 224, *, labels_csv=None,
                 files: list[str] | None = None, progress=None):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ProbeError(f"probe folder {self.root} does not exist or is not a folder")
        self.size = int(size)
        self._candidates, irregular = _scan(self.root)
        self.report = FolderReport(str(self.root), n_files=len(self._candidates) + len(irregular))
        self._checked = CheckedFiles(self.root)
        if files is None:
            files = self._validate(progress)
        else:
            self.report.skipped = [(f, "skipped in the cached scan") for f in
                                   sorted(set(self._candidates) - set(files))]
        self.report.skipped += irregular
        if not files:
            raise ProbeError(f"no readable images in {self.root} ({self.report.summary()})")
        self.files = list(files)
        self.report.n_images = len(self.files)
        self.labels_csv = Path(labels_csv).expanduser().resolve() if labels_csv else None
        self.label_names: list[str] = []
        self.labels = None
        if self.labels_csv:
            self.label_names, self.labels = read_labels_csv(self.labels_csv, self.files)
        else:
            from neurodash.imagenet import folder_labels
            found = folder_labels(self.files)
            if found is not None:
                self.label_names, self.labels = found

    def _validate(self, progress=None) -> list[str]:
        kept = []
        total = max(len(self._candidates), 1)
        for j, rel in enumerate(self._candidates):
            path = self.root / rel
            try:
                if path.stat().st_size == 0:
                    raise ValueError("empty file")
                with open_image(path, self.size) as img:
                    to_rgb8(img)
                kept.append(rel)
            except ImageRefused as err:
                self.report.skipped.append((rel, f"refused: {err}"))
            except UnidentifiedImageError:
                self.report.skipped.append((rel, "not an image"))
            except ValueError as err:
                self.report.skipped.append((rel, f"empty: {err}" if "empty" in str(err) else
                                            f"corrupt: {err}"))
            except (OSError, SyntaxError, Image.DecompressionBombError) as err:
                self.report.skipped.append((rel, f"corrupt: {err}"))
            if progress and j % 50 == 0:
                progress(j / total, f"scanning {rel}")
        return kept

    def __len__(self) -> int:
        return len(self.files)

    def listing_hash(self, memo: HashMemo | None = None) -> str:
        """Hash of every candidate file's path and CONTENT (and the labels CSV's content): any change
        to the folder changes it, a same-size replacement with the old mtime included. ``memo``
        skips re-hashing files whose inode, size, mtime and ctime are unchanged."""
        memo = memo or HashMemo()
        h = hashlib.sha256()
        for rel in self._candidates:
            try:
                digest = memo.digest(self.root / rel)
            except OSError as err:
                raise ProbeError(f"probe file {self.root / rel} cannot be read ({err.strerror or err}); "
                                 "was the folder changed while it was scanned?") from err
            self._checked.remember(rel, digest)
            h.update(f"{rel}|{digest}\n".encode())
        csv_part = memo.digest(self.labels_csv) if self.labels_csv else ""
        memo.save()
        return stable_hash({"probe": "folder", "root": str(self.root), "size": self.size,
                            "files": h.hexdigest(), "labels": csv_part})

    def images(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(ids), self.size, self.size, 3), np.uint8)
        for j, i in enumerate(ids):
            if not 0 <= i < len(self.files):
                raise IndexError(f"image id {i} outside the probe (0..{len(self.files) - 1})")
            out[j] = read_image(self._checked.path(self.files[i]), self.size)
        return out

    def chunks(self, batch: int, *, masks: bool = False, start: int = 0,
               stop: int | None = None, images: bool = True) -> Iterator[tuple]:
        if masks:
            raise ProbeError("an image folder has no concept masks")
        stop = len(self.files) if stop is None else min(stop, len(self.files))
        for s in range(start, stop, batch):
            yield s, self.images(np.arange(s, min(s + batch, stop)))


def _scan(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(regular files, sorted by relative path; [(path, reason)] of entries that are not): hidden
    files are ignored; broken or looping links and FIFOs/sockets/devices are reported, not read."""
    files, irregular = [], []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        try:
            st = p.stat()
        except OSError as err:
            irregular.append((rel, f"unreadable: broken or looping link ({err.strerror})"))
            continue
        if p.is_symlink() and not stays_inside(p, root):
            # a browser-picked folder is inside the allowed roots; a link in it must not reach out
            irregular.append((rel, "link leads outside the probe folder: not read"))
            continue
        if stat.S_ISREG(st.st_mode):
            files.append(rel)
        elif not stat.S_ISDIR(st.st_mode):
            irregular.append((rel, "not a regular file (FIFO, socket or device)"))
    return sorted(files), sorted(irregular)


def read_labels_csv(path: Path, files: list[str]) -> tuple[list[str], np.ndarray]:
    """Header ``file,<concept>,...``; a value counts as present when it parses to a number ≥ 0.5
    or reads true/yes. Every kept image needs a row (matched by relative path or file name)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise ProbeError(f"cannot read labels CSV {path}: {err}") from err
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ProbeError(f"labels CSV {path} needs a header 'file,<concept>,...' and one row per image")
    names = [c.strip() for c in rows[0][1:]]
    table: dict[str, list[str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        if len(row) != len(names) + 1:
            raise ProbeError(f"labels CSV {path} line {line}: {len(row)} fields, header has {len(names) + 1}")
        table[row[0].strip().replace("\\", "/")] = row[1:]
    by_name = {Path(k).name: v for k, v in table.items()}
    labels = np.zeros((len(files), len(names)), bool)
    missing = []
    for i, rel in enumerate(files):
        row = table.get(rel) or by_name.get(Path(rel).name)
        if row is None:
            missing.append(rel)
            continue
        labels[i] = [_truthy(v) for v in row]
    if missing:
        raise ProbeError(f"labels CSV {path} has no row for {len(missing)} image(s), e.g. "
                         f"{', '.join(missing[:3])}")
    return names, labels


def _truthy(v: str) -> bool:
    v = v.strip().lower()
    if v in ("true", "yes", "y"):
        return True
    try:
        return float(v) >= 0.5
    except ValueError:
        return False


def make_probe(spec: str, *, n: int = 2000, seed: int = 0, size: int = 64, labels_csv=None,
               files=None, progress=None):
    """"world" -> WorldProbe(n, seed, size); a Broden dataset folder (index.csv + label.csv) ->
    BrodenProbe; any other folder -> FolderProbe."""
    if spec == "world":
        return WorldProbe(n, seed, size)
    from neurodash.broden import BrodenProbe, is_broden
    if is_broden(spec):
        return BrodenProbe(spec, size)
    return FolderProbe(spec, size, labels_csv=labels_csv, files=files, progress=progress)
