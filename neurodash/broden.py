"""Broden (NetDissect's dataset) as a probe with pixel masks, read in NetDissect's own layout:

    <root>/index.csv      image,split,ih,iw,sh,sw,<category>,...   one row per image; a category cell
                          lists ';'-separated mask files (PNG under images/) or whole-image label numbers
    <root>/label.csv      number,name,category,frequency,coverage,syns   (label 0 is "unlabelled")
    <root>/category.csv   name,first,last,count,frequency
    <root>/c_<category>.csv   the category's dense codes (not needed here)
    <root>/images/...     images and masks; a mask pixel's label number is R + 256·G

Concepts are the labels of label.csv (numbers ≥ 1), in number order; a name repeated across numbers
gets its category in brackets. An image "has" a label where any pixel of its (cropped) masks carries
it; scene/texture-style whole-image labels cover every pixel, as in NetDissect. Images are resized
and centre-cropped like a folder probe; masks follow the same geometry at ``mask_size`` (default:
the segmentation size of the first row, 112 in broden1_224) with nearest-neighbour resampling.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from neurodash.cache import HashMemo, stable_hash
from neurodash.checked_files import CheckedFiles
from neurodash.imagefiles import ProbeError, open_image, read_image

META_COLUMNS = ("image", "split", "ih", "iw", "sh", "sw")
MASK_BUDGET = 1 << 26  # bools per mask chunk: (images × concepts × pixels) kept under ~64 MB


@dataclass(frozen=True)
class BrodenLabel:
    number: int
    name: str
    category: str


def is_broden(path) -> bool:
    root = Path(path).expanduser()
    return (root / "index.csv").is_file() and (root / "label.csv").is_file()


def _rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ProbeError(f"cannot read {path}: {err}") from err


def read_labels(root) -> list[BrodenLabel]:
    """The labels of label.csv (number ≥ 1), in number order, with names made unique."""
    path = Path(root).expanduser() / "label.csv"
    out = []
    for line, row in enumerate(_rows(path), start=2):
        try:
            number = int(row["number"])
        except (KeyError, TypeError, ValueError):
            raise ProbeError(f"{path} line {line}: no integer 'number'") from None
        if number < 1:
            continue
        category = (row.get("category") or "").split(";")[0].split("(")[0]
        out.append(BrodenLabel(number, (row.get("name") or "").strip() or f"label{number}", category))
    out.sort(key=lambda label: label.number)
    seen: dict[str, int] = {}
    for label in out:
        seen[label.name] = seen.get(label.name, 0) + 1
    labels = [BrodenLabel(l.number, f"{l.name} ({l.category})" if seen[l.name] > 1 else l.name,
                          l.category) for l in out]
    if not labels:
        raise ProbeError(f"{path} lists no labels")
    return labels


def decode_mask(rgb: np.ndarray) -> np.ndarray:
    """NetDissect's mask encoding: label number = R + 256·G."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 2:
        raise ProbeError(f"a Broden mask must be an RGB image, got shape {rgb.shape}")
    return rgb[:, :, 0].astype(np.int32) + 256 * rgb[:, :, 1].astype(np.int32)


def square_labels(numbers: np.ndarray, size: int) -> np.ndarray:
    """A label-number map resized (nearest) so its shorter side is ``size``, centre-cropped: the
    geometry probes.square gives the image."""
    h, w = numbers.shape
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = Image.fromarray(numbers.astype(np.int32), mode="I").resize((nw, nh), Image.Resampling.NEAREST)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.int32)


class BrodenProbe:
    """The images of a Broden index with their concept labels and pixel masks (the probe interface
    of neurodash.probes, with ``masks_chunks`` through ``chunks(batch, masks=True)``)."""

    kind = "broden"
    has_masks = True

    def __init__(self, root, size: int = 224, *, mask_size: int | None = None):
        self.root = Path(root).expanduser().resolve()
        if not is_broden(self.root):
            raise ProbeError(f"{self.root} is not a Broden folder (index.csv and label.csv expected)")
        self.size = int(size)
        self.labels_info = read_labels(self.root)
        self.label_names = [label.name for label in self.labels_info]
        self._column = {label.number: j for j, label in enumerate(self.labels_info)}
        rows = _rows(self.root / "index.csv")
        if not rows:
            raise ProbeError(f"{self.root / 'index.csv'} lists no images")
        self.categories = [c for c in rows[0] if c not in META_COLUMNS]
        self.rows = rows
        self.files = [r["image"] for r in rows]
        missing = [f for f in self.files if not (self.root / "images" / f).is_file()]
        if missing:
            raise ProbeError(f"{len(missing)} image(s) listed in index.csv are missing under "
                             f"{self.root / 'images'}, e.g. {', '.join(missing[:3])}")
        self.mask_size = int(mask_size or int(rows[0].get("sh") or 0) or self.size)
        self._labels = None
        self._checked = CheckedFiles(self.root / "images", self.root)

    def __len__(self) -> int:
        return len(self.rows)

    def listing_hash(self, memo: HashMemo | None = None) -> str:
        """index.csv, label.csv and every image and mask file by CONTENT (``memo`` skips files whose
        inode, size, mtime and ctime are unchanged)."""
        memo = memo or HashMemo()
        h = hashlib.sha256()
        for name in ("index.csv", "label.csv"):
            h.update((self.root / name).read_bytes())
        for row in self.rows:
            for rel in [row["image"]] + [v for c in self.categories for v in self._cell(row, c)
                                         if isinstance(v, str)]:
                digest = memo.digest(self.root / "images" / rel)
                self._checked.remember(rel, digest)
                h.update(f"{rel}|{digest}\n".encode())
        memo.save()
        return stable_hash({"probe": "broden", "root": str(self.root), "size": self.size,
                            "mask_size": self.mask_size, "files": h.hexdigest()})

    @staticmethod
    def _cell(row: dict, category: str) -> list:
        return [int(v) if v.isdigit() else v for v in (row.get(category) or "").split(";") if v]

    def images(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(ids), self.size, self.size, 3), np.uint8)
        for j, i in enumerate(ids):
            if not 0 <= i < len(self.rows):
                raise IndexError(f"image id {i} outside the probe (0..{len(self.rows) - 1})")
            out[j] = read_image(self._checked.path(self.files[i]), self.size)
        return out

    def label_masks(self, i: int) -> np.ndarray:
        """bool (C, S, S): the concept masks of image i at mask_size."""
        S, C = self.mask_size, len(self.label_names)
        out = np.zeros((C, S, S), bool)
        row = self.rows[i]
        for category in self.categories:
            for entry in self._cell(row, category):
                if isinstance(entry, int):  # a whole-image label (scene, texture)
                    if entry in self._column:
                        out[self._column[entry]] = True
                    continue
                path = self._checked.path(entry)
                try:
                    with open_image(path) as img:  # pixel budget checked before decoding
                        numbers = square_labels(decode_mask(np.asarray(img.convert("RGB"))), S)
                except (OSError, ValueError) as err:
                    raise ProbeError(f"cannot read Broden mask {path}: {err}") from err
                for number in np.unique(numbers):
                    if int(number) in self._column:
                        out[self._column[int(number)]] |= numbers == number
        return out

    def masks(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        return np.stack([self.label_masks(int(i)) for i in ids]) if len(ids) else \
            np.zeros((0, len(self.label_names), self.mask_size, self.mask_size), bool)

    def chunks(self, batch: int, *, masks: bool = False, start: int = 0,
               stop: int | None = None, images: bool = True) -> Iterator[tuple]:
        """(start, images), or (start, images, labels, masks) with masks, over ids [start, stop);
        chunks with masks hold fewer images when a dense (b, C, S, S) block would pass MASK_BUDGET.
        With masks, images=False gives None for the images and reads none."""
        n = len(self.rows) if stop is None else min(stop, len(self.rows))
        full = start == 0 and n == len(self.rows)
        if masks:
            per_image = len(self.label_names) * self.mask_size ** 2
            batch = max(1, min(batch, MASK_BUDGET // max(per_image, 1)))
        parts = []
        for s in range(start, n, batch):
            ids = np.arange(s, min(s + batch, n))
            if not masks:
                yield s, self.images(ids)
                continue
            mk = self.masks(ids)
            labels = mk.any(axis=(2, 3))
            parts.append(labels)
            yield s, (self.images(ids) if images else None), labels, mk
        if masks and full and self._labels is None:
            self._labels = np.concatenate(parts)

    @property
    def labels(self) -> np.ndarray:
        """bool (n, C): label present anywhere in the image's masks (one pass over the masks)."""
        if self._labels is None:
            self._labels = np.stack([self.label_masks(i).any(axis=(1, 2)) for i in range(len(self))])
        return self._labels


def broden_root(spec: str) -> Path | None:
    """The folder of a "broden:<folder>" spec, or None for anything else."""
    if isinstance(spec, str) and spec.startswith("broden:"):
        return Path(os.path.expanduser(spec.split(":", 1)[1]))
    return None
