"""What every command shares: the workspace options (built from the Recipe's field metadata),
opening a workspace with a progress bar, and JSON-safe output."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import MISSING

import numpy as np

from neurodash.recipe import Recipe, recipe_fields


def _flag(field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_workspace_options(p: argparse.ArgumentParser) -> None:
    """One option per Recipe field (defaults: the shapes world), plus --home."""
    g = p.add_argument_group("workspace (defaults: the shapes world)")
    for f in recipe_fields():
        meta = f.metadata
        kw = {"dest": f.name, "default": None if f.default is MISSING else f.default,
              "help": meta.get("help", "")}
        if meta.get("widget") == "number":
            kw["type"] = int
        if meta.get("choices"):
            kw["choices"] = list(meta["choices"])
        g.add_argument(_flag(f), **kw)
    g.add_argument("--home", default=None, help="cache root (default $NEURODASH_HOME or ~/.cache/neurodash)")


def recipe_from_args(args) -> Recipe:
    return Recipe(**{f.name: getattr(args, f.name) for f in recipe_fields()})


class TqdmProgress:
    """A progress(fraction, message) callback drawing one tqdm bar on stderr."""

    def __init__(self, desc: str):
        from tqdm import tqdm
        self.bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=True,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")
        self.last_message = ""

    def __call__(self, fraction: float, message: str) -> None:
        target = int(round(max(0.0, min(1.0, fraction)) * 1000))
        if target > self.bar.n:
            self.bar.update(target - self.bar.n)
        if message != self.last_message:
            self.last_message = message
            self.bar.set_postfix_str(message[:60])
            if message.startswith("recomputing"):
                self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def open_workspace(args, *, compute: bool = True):
    """The workspace of the command's options, precomputed (with a bar) when it is not ready."""
    from neurodash.precompute import precompute
    from neurodash.workspace import Workspace
    ws = Workspace.open(recipe_from_args(args), home=args.home)
    if not ws.is_ready() and compute:
        if ws.stale_reason:
            print(f"cache does not match ({ws.stale_reason}): recomputing", file=sys.stderr)
        bar = TqdmProgress(f"precompute {ws.recipe.model}:{ws.recipe.layer}")
        try:
            precompute(ws, progress=bar)
        finally:
            bar.close()
    return ws


def clean(obj):
    """JSON-safe: nan/inf become null, numpy scalars/arrays become Python values."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
