"""Probe files read back only as they were when the workspace hashed them.

A probe's listing hash covers every file's bytes; a picture replaced afterwards must not be shown
beside activations computed from the old one, and a file re-pointed by a link to somewhere outside
the probe folder must not be read at all. Both image probes (an image folder, a Broden index) keep
one of these and read every image path through it.
"""

from __future__ import annotations

from pathlib import Path

from neurodash.cache import HashMemo
from neurodash.imagefiles import ProbeError

_MEMO = HashMemo()  # this process's memo of image hashes (re-hashes only files whose stat changed)


def stays_inside(path: Path, root: Path) -> bool:
    """Whether ``path``, links followed, is a file or folder under ``root``."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return root in resolved.parents


class CheckedFiles:
    """Paths ``base / rel`` that must stay under ``root`` (default: base), with the digests a
    listing hash saw for them."""

    def __init__(self, base: Path, root: Path | None = None):
        self.base = Path(base)
        self.root = Path(root if root is not None else base).resolve()
        self.digests: dict[str, str] = {}

    def remember(self, rel: str, digest: str) -> None:
        self.digests[rel] = digest

    def path(self, rel: str) -> Path:
        """The file's path, once it is known to stay inside the root and (if hashed) to hold the
        same bytes; ProbeError otherwise."""
        path = self.base / rel
        if not stays_inside(path, self.root):
            raise ProbeError(f"image {path} leads outside the probe folder {self.root}; it is not read")
        want = self.digests.get(rel)
        if want is not None and _MEMO.digest(path) != want:
            raise ProbeError(f"image {path} changed since the workspace was computed; recompute it")
        return path
