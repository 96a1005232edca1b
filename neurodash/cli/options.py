"""What every command shares: the workspace options (built from the Recipe's field metadata),
opening a workspace with a progress bar, and JSON-safe output."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import MISSING

import numpy as np

from neurodash.recipe import Recipe, recipe_fields


# ---- value checks: a bad value is a clear argparse error (exit 2), never silently replaced ------

def _number(text: str, kind):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1; got {text}")
    return value


def nonnegative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 0; got {text}")
    return value


def open_unit(text: str) -> float:
    """A probability-like level strictly between 0 and 1 (δ, confidence, a top fraction)."""
    value = _number(text, float)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1; got {text}")
    return value


def unit(text: str) -> float:
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1]; got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0; got {text}")
    return value


def metric_list(text: str) -> list[str]:
    """Comma-separated metric names, each known (the registry's, or pixel_iou)."""
    from neurodash.stats.metrics import METRICS
    names = [m.strip() for m in text.split(",") if m.strip()]
    known = list(METRICS) + ["pixel_iou"]
    bad = [m for m in names if m not in known]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {', '.join(bad) or repr(text)}; choose "
                                         f"from {', '.join(known)}")
    return names


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
            kw["type"] = positive_int if (meta.get("minimum") or 0) >= 1 else nonnegative_int
        if meta.get("choices"):
            kw["choices"] = list(meta["choices"])
        g.add_argument(_flag(f), **kw)
    g.add_argument("--home", default=None, help="cache root (default $NEURODASH_HOME or ~/.cache/neurodash)")
    add_offline_option(g)


def add_offline_option(p) -> None:
    p.add_argument("--offline", action="store_true",
                   help="never download pretrained files (also NEURODASH_OFFLINE=1); a missing one "
                        "is named with the folder to put it in")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale-out (default: one process)")
    g.add_argument("--engine", default="local", choices=["local", "shards", "ray"],
                   help="local: one process; shards: resumable shards in this process; ray: shards "
                        "as Ray tasks (pip install 'neurodash[ray]')")
    g.add_argument("--address", default=None,
                   help="Ray cluster to join ('auto' on a cluster node, ray://head:10001 through Ray "
                        "Client); default: start a local Ray")
    g.add_argument("--shards", type=int, default=None, help="number of shards (default 4)")
    g.add_argument("--workers", type=int, default=None,
                   help="CPUs of a local Ray (default: all); one shard task per CPU or GPU")


def make_runner(args):
    """None (one process), or where shards run: --engine shards (this process) or ray."""
    for opt in ("shards", "workers"):
        value = getattr(args, opt, None)
        if value is not None and value < 1:
            raise ValueError(f"--{opt} must be at least 1 (got {value})")
    engine = getattr(args, "engine", "local")
    if engine == "local":
        return None
    if engine == "shards":
        from neurodash.shards import InProcessRunner
        return InProcessRunner()
    from neurodash.ray_engine import RayRunner
    return RayRunner(args.address, workers=args.workers)


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
    return build_workspace(args, compute=compute)[0]


def build_workspace(args, *, compute: bool = True):
    """(workspace, shards.ShardedResult or None): opened, and precomputed when not ready, in one
    process or in shards (--engine, where the command has it)."""
    from neurodash.precompute import precompute
    from neurodash.workspace import Workspace
    ws = Workspace.open(recipe_from_args(args), home=args.home)
    sharded = None
    if not ws.is_ready() and compute:
        if ws.stale_reason:
            print(f"cache does not match ({ws.stale_reason}): recomputing", file=sys.stderr)
        runner = make_runner(args)
        bar = TqdmProgress(f"precompute {ws.recipe.model}:{ws.recipe.layer}")
        try:
            sharded = precompute(ws, progress=bar, runner=runner,
                                 shards=getattr(args, "shards", None) or 4)
        finally:
            bar.close()
            if hasattr(runner, "close"):
                runner.close()
    return ws, sharded


def print_notices(ws) -> None:
    """Say on stderr what was recovered while the command ran (cached files that failed their
    checksum and were recomputed, a corrupt annotations file set aside)."""
    sources = (getattr(ws, "cache", None), getattr(ws, "annotations", None))
    for msg in [m for src in sources if src is not None for m in getattr(src, "notices", [])]:
        print(f"note: {msg}", file=sys.stderr)


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
