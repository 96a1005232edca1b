"""Triage annotations: per-neuron flags, status and note, kept apart from the recomputable cache.

One JSON file per workspace recipe (``<root>/annotations/<recipe key>.json``). A recompute of the
workspace never touches it. Every write takes a file lock, re-reads the file and changes only the
neuron being edited, then replaces the file atomically: two sessions editing at once lose nothing.
A file that cannot be read (not JSON, a list, records of the wrong shape) is never overwritten: it is
renamed to ``<name>.corrupt-<UTC time>``, the fact is logged and kept in ``notices``, and triage
starts from an empty record.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from filelock import FileLock

from neurodash.cache import atomic_write_text

log = logging.getLogger("neurodash")

STATUSES = ("unreviewed", "interesting", "confirmed", "rejected", "needs-work")


@dataclass(frozen=True)
class Annotation:
    neuron: int
    status: str = "unreviewed"
    flags: tuple[str, ...] = ()
    note: str = ""
    updated: str = ""  # ISO-8601 UTC time of the last edit; "" when never edited

    def to_json(self) -> dict:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d


class Annotations:
    """The triage store of one workspace."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=30)
        self.notices: list[str] = []  # what was recovered (a corrupt file set aside), for the UI/CLI

    def _read(self) -> dict[str, dict]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
            problem = _shape_problem(data)
        except ValueError as err:
            problem = f"not valid JSON ({err})"
        if problem is None:
            return data.get("neurons", {})
        self._set_aside(raw, problem)
        return {}

    def _set_aside(self, raw: bytes, problem: str) -> None:
        """Keep an unreadable file as a backup (never overwrite the user's notes) and start afresh."""
        with self._lock:
            try:
                if self.path.read_bytes() != raw:  # another process already set it aside
                    return
            except FileNotFoundError:
                return
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            os.replace(self.path, backup)
        msg = (f"annotations file {self.path} was unreadable ({problem}); it is kept as {backup} "
               "and triage notes start empty")
        log.warning("%s", msg)
        self.notices.append(msg)

    def get(self, neuron: int) -> Annotation:
        rec = self._read().get(str(int(neuron)))
        return _from_record(int(neuron), rec) if rec else Annotation(int(neuron))

    def all(self) -> dict[int, Annotation]:
        return {int(k): _from_record(int(k), v) for k, v in self._read().items()}

    def update(self, neuron: int, *, status: str | None = None, flags=None, note: str | None = None,
               add_flags=(), remove_flags=()) -> Annotation:
        """Change the given fields of one neuron's record; the other neurons' records are untouched."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
        neuron = int(neuron)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            neurons = self._read()
            old = _from_record(neuron, neurons.get(str(neuron)) or {})
            new_flags = list(old.flags if flags is None else flags)
            new_flags += [f for f in add_flags if f not in new_flags]
            new_flags = [f for f in new_flags if f not in set(remove_flags)]
            ann = Annotation(
                neuron=neuron,
                status=old.status if status is None else status,
                flags=tuple(dict.fromkeys(str(f) for f in new_flags)),
                note=old.note if note is None else str(note),
                updated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            )
            neurons[str(neuron)] = ann.to_json()
            atomic_write_text(self.path, json.dumps({"neurons": neurons}, indent=1, sort_keys=True,
                                                    ensure_ascii=False))
        return ann

    def clear(self, neuron: int) -> None:
        with self._lock:
            neurons = self._read()
            if neurons.pop(str(int(neuron)), None) is not None:
                atomic_write_text(self.path, json.dumps({"neurons": neurons}, indent=1,
                                                        sort_keys=True, ensure_ascii=False))


def _shape_problem(data) -> str | None:
    """Why parsed JSON is not an annotations file ({"neurons": {"<int>": {record}}}), or None."""
    if not isinstance(data, dict):
        return f"holds a {type(data).__name__}, not an object"
    neurons = data.get("neurons", {})
    if not isinstance(neurons, dict):
        return "'neurons' is not an object"
    for k, v in neurons.items():
        if not k.lstrip("-").isdigit() or not isinstance(v, dict):
            return f"record {k!r} is not a neuron's record"
        if not isinstance(v.get("flags", []), list) or not isinstance(v.get("note", ""), str) \
                or not isinstance(v.get("status", ""), str):
            return f"record {k!r} has fields of the wrong type"
    return None


def _from_record(neuron: int, rec: dict) -> Annotation:
    return Annotation(neuron=neuron, status=rec.get("status", "unreviewed"),
                      flags=tuple(rec.get("flags", ())), note=rec.get("note", ""),
                      updated=rec.get("updated", ""))


def annotation_columns(notes: dict[int, Annotation], neurons) -> pd.DataFrame:
    """The saved triage record of each neuron as columns (status, manual_flags, note, updated),
    indexed like `neurons`: the one place annotations are joined into a table, always read fresh
    (cached analysis results never hold them)."""
    neurons = [int(j) for j in neurons]
    return pd.DataFrame({
        "status": [notes[j].status if j in notes else "unreviewed" for j in neurons],
        "manual_flags": [", ".join(notes[j].flags) if j in notes else "" for j in neurons],
        "note": [notes[j].note if j in notes else "" for j in neurons],
        "updated": [notes[j].updated if j in notes else "" for j in neurons],
    }, index=neurons)
