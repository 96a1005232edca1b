"""One check for a file a user names (weights, concept files, other inputs), with the error its
caller raises: a directory, a missing path and a non-regular file (FIFO, device) each say so."""

from __future__ import annotations

from pathlib import Path


def regular_file(path, what: str, error: type[Exception], *, kind: str = "file") -> Path:
    """`path` (user-expanded) when it is a regular file; else `error` naming `what` and the path."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise error(f"{what} {p} is a directory, not a {kind}")
    if not p.exists():
        raise error(f"{what} {p} does not exist")
    if not p.is_file():
        raise error(f"{what} {p} is not a regular file")
    return p
