"""Where the browser may read data: the allowed roots, what lies under them, and the path check.

The dashboard reaches data only under roots the operator allows; the CLI (the operator's own
shell) takes any path. Roots come from, in this order:
- ``--data-root DIR`` after ``--`` on the streamlit command line (``streamlit run app.py --
  --data-root /data/probes --data-root /data/weights``), and
- ``NEURODASH_DATA`` (``os.pathsep``-separated folders, e.g. ``/data/probes:/data/weights``),
- always: the cache home (``NEURODASH_HOME``) and the shipped ``assets/``.

A path is inside a root when its fully resolved form (symlinks followed, ``..`` collapsed) lies
under the resolved root: a link that leads out, or ``..`` that climbs out, is refused. Pickers are
built from the listings below (bounded walks: depth and entry limits), never from typed paths.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from neurodash.assets import ASSETS
from neurodash.cache import cache_root

ENV = "NEURODASH_DATA"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
CONCEPT_SUFFIXES = (".txt",)
LABELS_SUFFIXES = (".csv",)
KINDS = ("probe", "concepts", "weights", "labels")
MAX_DEPTH = 4          # how deep a listing walks below a root
MAX_ENTRIES = 20_000   # directory entries looked at per root (a root of millions is not walked whole)


class RootError(ValueError):
    """A path lies outside the allowed roots (or does not exist); the message says which roots."""


def parse_data_roots(argv: list[str]) -> list[str]:
    """The ``--data-root`` values of a command line (unknown arguments are ignored)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--data-root", action="append", default=[])
    known, _ = p.parse_known_args(argv)
    return list(known.data_root)


def allowed_roots(extra=(), *, home=None, env: str | None = None) -> list[Path]:
    """The resolved, existing, de-duplicated roots: ``extra`` (e.g. --data-root), $NEURODASH_DATA,
    the cache home and the shipped assets."""
    env = os.environ.get(ENV, "") if env is None else env
    raw = [*extra, *[p for p in env.split(os.pathsep) if p.strip()], cache_root(home), ASSETS]
    out: list[Path] = []
    for r in raw:
        try:
            p = Path(r).expanduser().resolve(strict=True)
        except (OSError, RuntimeError):
            continue  # a root that does not exist allows nothing
        if p.is_dir() and p not in out:
            out.append(p)
    return out


def is_inside(path, roots) -> bool:
    try:
        p = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return False
    return any(p == r or r in p.parents for r in roots)


def confined(path, roots) -> Path:
    """``path`` resolved, if it exists inside one of ``roots``; RootError otherwise."""
    if not isinstance(path, (str, os.PathLike)) or str(path).strip() == "" or "\x00" in str(path):
        raise RootError("an empty or malformed path is not allowed")
    if not is_inside(path, roots):
        raise RootError(f"{str(path)!r} is not a file or folder under the allowed data roots "
                        f"({', '.join(str(r) for r in roots) or 'none'}); the operator adds roots "
                        f"with {ENV} or --data-root")
    return Path(path).expanduser().resolve(strict=True)


@dataclass(frozen=True)
class Found:
    kind: str    # one of KINDS
    path: Path   # resolved
    label: str   # path relative to its root, prefixed by the root's name (for pickers)


def _walk(root: Path):
    """(directory, [file names]) under root, depth- and entry-bounded, links not followed out."""
    seen = 0
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        files = []
        for e in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                return
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH:
                        stack.append((Path(e.path), depth + 1))
                elif e.is_file():
                    files.append(e.name)
            except OSError:
                continue
        yield d, files


def listing(kind: str, roots) -> list[Found]:
    """What the pickers offer for a kind: probe folders (holding images), concept-set text files,
    weights files, labels CSVs; each checked to resolve inside its root."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    out: list[Found] = []
    for root in roots:
        for d, files in _walk(root):
            if kind == "probe":  # image folders, and Broden folders (index.csv + label.csv)
                if any(f.lower().endswith(IMAGE_SUFFIXES) for f in files) or is_broden_listing(files):
                    out.append(_found(kind, d, root))
                continue
            suffixes = {"concepts": CONCEPT_SUFFIXES, "weights": WEIGHTS_SUFFIXES,
                        "labels": LABELS_SUFFIXES}[kind]
            out += [_found(kind, d / f, root) for f in files if f.lower().endswith(suffixes)]
    uniq = {f.path: f for f in out if is_inside(f.path, roots)}
    return sorted(uniq.values(), key=lambda f: f.label)


def is_broden_listing(files) -> bool:
    return "index.csv" in files and "label.csv" in files


def _found(kind: str, path: Path, root: Path) -> Found:
    rel = path.relative_to(root).as_posix()
    return Found(kind, path.resolve(), f"{root.name}/{rel}" if rel != "." else root.name)


# ---- a Recipe from the browser --------------------------------------------------------------------

# Recipe fields that name files or folders (values that are not paths are left alone: "world",
# "imagenet", "random", None) and what each must be.
PATH_FIELDS = {"probe": "dir", "concept_set": "file", "weights": "file", "clip_weights": "file",
               "labels_csv": "file"}
NOT_PATHS = {"probe": ("world",), "weights": ("random",)}


def recipe_paths(recipe) -> dict[str, str]:
    """field -> path of every file or folder a Recipe names (an open_clip config JSON included)."""
    from neurodash.concepts import is_named_set
    out = {}
    for name in PATH_FIELDS:
        value = getattr(recipe, name, None)
        if value in (None, "") or value in NOT_PATHS.get(name, ()):
            continue
        if name == "concept_set":
            if str(value).startswith("broden:"):
                out["concept_set"] = str(value).split(":", 1)[1]  # a Broden folder's labels
                continue
            if is_named_set(str(value)):
                continue
        out[name] = str(value)
    for name in ("model", "concept_source"):
        value = str(getattr(recipe, name, "") or "")
        if value.startswith("open_clip:") and value.endswith(".json"):
            out[name] = value.split(":", 1)[1]
    return out


def confine_recipe(recipe, roots) -> None:
    """RootError unless every path the Recipe names lies inside ``roots`` (and is a folder for the
    probe, a file otherwise): what the browser may ask for."""
    for name, path in recipe_paths(recipe).items():
        try:
            p = confined(path, roots)
        except RootError as err:
            raise RootError(f"{name}: {err}") from None
        want = PATH_FIELDS.get(name, "file")
        if name == "concept_set" and str(getattr(recipe, name)).startswith("broden:"):
            want = "dir"
        if (want == "dir") != p.is_dir():
            raise RootError(f"{name}: {path!r} is not a {'folder' if want == 'dir' else 'file'}")
