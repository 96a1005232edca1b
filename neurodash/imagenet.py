"""ImageNet's classes and the labels of an ImageNet-style folder (one sub-folder per class).

A class folder is named by its WordNet synset ("n01440764", the ImageNet/torchvision ImageFolder
layout) or by its class name ("tench", "great white shark" or "great_white_shark"), matched against
the 1000 ImageNet classes of assets/imagenet_classes.txt (class-index order). The synset list in
index order is timm's (``timm.data.ImageNetInfo``; timm ships with open_clip). When every class
folder is an ImageNet class, the labels have the 1000 ImageNet classes as columns, so the "imagenet"
concept set gets ground truth; other class folders label their images with the folder names (sorted,
as torchvision's ImageFolder does).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def synsets() -> tuple[str, ...]:
    from timm.data import ImageNetInfo
    return tuple(ImageNetInfo().label_names())


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    from neurodash.concepts import IMAGENET_FILE, read_concept_file
    return tuple(read_concept_file(IMAGENET_FILE))


@lru_cache(maxsize=1)
def _lookup() -> tuple[dict[str, int], dict[str, int]]:
    exact = {s: i for i, s in enumerate(synsets())}
    exact.update({n: i for i, n in enumerate(class_names())})  # "Cardigan" and "cardigan" differ
    folded: dict[str, list[int]] = {}
    for i, n in enumerate(class_names()):
        folded.setdefault(n.lower(), []).append(i)
    return exact, {k: v[0] for k, v in folded.items() if len(v) == 1}


def class_index(folder: str) -> int | None:
    """ImageNet class index of a folder name (synset, class name, '_' for spaces), or None."""
    exact, folded = _lookup()
    for name in (folder, folder.replace("_", " ")):
        if name in exact:
            return exact[name]
        if name.lower() in folded:
            return folded[name.lower()]
    return None


def folder_labels(files: list[str]) -> tuple[list[str], np.ndarray] | None:
    """(label names, bool (n, C)) from the first path part of each relative file path, or None
    when some image is not inside a class folder or there are fewer than two classes."""
    parts = [f.split("/", 1) for f in files]
    if not files or any(len(p) < 2 for p in parts):
        return None
    classes = [p[0] for p in parts]
    distinct = sorted(set(classes))
    if len(distinct) < 2:
        return None
    index = {c: class_index(c) for c in distinct}
    if all(i is not None for i in index.values()):
        names = list(class_names())
        column = [index[c] for c in classes]
    else:
        names = distinct
        where = {c: j for j, c in enumerate(distinct)}
        column = [where[c] for c in classes]
    labels = np.zeros((len(files), len(names)), bool)
    labels[np.arange(len(files)), column] = True
    return names, labels
