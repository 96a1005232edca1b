"""`python -m neurodash <command>`: precompute | report | layer | models | layers (| verify).

Every command takes the same workspace options (defaults: the shapes world). Long steps show a tqdm
bar; an error is one line on stderr and exit status 2, never a traceback (NEURODASH_DEBUG=1 shows it).
The SIEVE `verify` subcommand plugs in through ``neurodash.sieve_cli.register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys

import numpy as np

EXIT_ERROR = 2


def add_workspace_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workspace (defaults: the shapes world)")
    g.add_argument("--model", default="shapes-cnn",
                   help="shapes-cnn, tiny-clip, a torchvision name, open_clip:<arch>, or checkpoint")
    g.add_argument("--layer", default="", help="layer name (see `layers`); default for shapes-cnn")
    g.add_argument("--weights", default=None, help="weights file (.safetensors or state dict)")
    g.add_argument("--arch", default=None, help="torchvision architecture for --model checkpoint")
    g.add_argument("--pooling", default="auto", choices=["auto", "mean", "max", "cls"])
    g.add_argument("--probe", default="world", help="'world' or an image folder")
    g.add_argument("--probe-n", type=int, default=None, help="world probe size")
    g.add_argument("--probe-seed", type=int, default=0, help="world probe seed")
    g.add_argument("--labels-csv", default=None, help="ground-truth labels for a folder probe")
    g.add_argument("--concepts", default="world", help="'world', 'imagenet' or a text file")
    g.add_argument("--concept-source", default="ground_truth",
                   help="ground_truth, clip (the shipped tiny CLIP) or open_clip:<arch>")
    g.add_argument("--clip-weights", default=None, help="checkpoint for an open_clip concept source")
    g.add_argument("--clip-mode", default="softmax", choices=["softmax", "sigmoid"])
    g.add_argument("--home", default=None, help="cache root (default $NEURODASH_HOME or ~/.cache/neurodash)")


def recipe_from_args(args):
    from neurodash.workspace import DEFAULT_PROBE_N, Recipe
    return Recipe(model=args.model, layer=args.layer, probe=args.probe,
                  probe_n=args.probe_n or DEFAULT_PROBE_N, probe_seed=args.probe_seed,
                  concept_set=args.concepts, concept_source=args.concept_source,
                  clip_mode=args.clip_mode, pooling=args.pooling, weights=args.weights,
                  arch=args.arch, clip_weights=args.clip_weights, labels_csv=args.labels_csv)


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
    from neurodash.workspace import Workspace
    ws = Workspace.open(recipe_from_args(args), home=args.home)
    if not ws.is_ready() and compute:
        if ws.stale_reason:
            print(f"cache does not match ({ws.stale_reason}): recomputing", file=sys.stderr)
        bar = TqdmProgress(f"precompute {ws.recipe.model}:{ws.recipe.layer}")
        try:
            ws.precompute(progress=bar)
        finally:
            bar.close()
    return ws


# ---- commands -------------------------------------------------------------------------------------

def cmd_precompute(args) -> int:
    ws = open_workspace(args)
    print(f"ready: {ws.recipe.label()}  [{ws.n_images} images × {ws.n_neurons} neurons × "
          f"{len(ws.concept_names)} concepts]  {ws.cache.path}")
    report = ws.meta.get("probe_report")
    if report:
        print(report)
    return 0


def _clean(obj):
    """JSON-safe: nan/inf become null, numpy scalars/arrays become Python values."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def neuron_report(ws, neuron: int, *, metrics=None, top_concepts=5, delta=0.05, be=False, K=100,
                  seed=0, be_metric="iou", sanity=True) -> dict:
    """Everything the neuron page shows, as one JSON-ready dict."""
    card = ws.neuron_card(neuron, metrics=metrics, top_concepts=top_concepts, delta=delta)
    out = {"workspace": ws.recipe.to_dict(), "workspace_key": ws.recipe.key(), **card.to_json()}
    out["top_images"] = [{"id": int(i), "activation": float(a)} for i, a in zip(card.top_ids, card.top_acts)]
    if be:
        out["bootstrap"] = ws.bootstrap(neuron, metric=be_metric, K=K, seed=seed, delta=delta).to_json()
    if sanity:
        from neurodash.stats import metrics as M
        ms = [m for m in (metrics or ws.default_metrics()) if m in M.METRICS]
        df = ws.sanity_report(metrics=ms, seed=seed)
        out["sanity"] = {str(m): {c: _clean(df.loc[m, c]) for c in df.columns} for m in df.index}
    return _clean(out)


def _report_rows(rep: dict) -> list[dict]:
    rows = []
    for metric, cs in rep["concepts"].items():
        for rank, c in enumerate(cs, start=1):
            rows.append({"neuron": rep["neuron"], "metric": metric, "rank": rank, **c,
                         "selectivity": rep["selectivity"], "selective": rep["selective"]})
    return rows


def cmd_report(args) -> int:
    ws = open_workspace(args)
    metrics = args.metrics.split(",") if args.metrics else None
    rep = neuron_report(ws, args.neuron, metrics=metrics, top_concepts=args.top_concepts,
                        delta=args.delta, be=args.be, K=args.K, seed=args.seed,
                        be_metric=args.be_metric, sanity=not args.no_sanity)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
    elif args.csv:
        import pandas as pd
        pd.DataFrame(_report_rows(rep)).to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
    else:
        print(f"neuron {rep['neuron']} of {ws.layer} · selectivity {rep['selectivity']} "
              f"({'selective' if rep['selective'] else 'not selective'})")
        print(f"top images: {', '.join(str(i) for i in rep['top_ids'][:10])} ...")
        for metric, cs in rep["concepts"].items():
            print(f"  {metric}:")
            for c in cs:
                band = "" if c["band"] is None else f"  band {c['band']:.3f} ({c['band_kind']})"
                print(f"    {c['concept']:<30s} {c['score']:.4f}{band}")
        if "bootstrap" in rep:
            b = rep["bootstrap"]
            print(f"  BE ({b['metric']}, K={b['K']}): set {b['prediction_names']}, stability "
                  f"{b['stability']:.2f}, coverage {'vacuous' if b['vacuous'] else b['coverage']}")
        if "sanity" in rep:
            for m, v in rep["sanity"].items():
                print(f"  sanity {m}: {'pass' if v.get('passed') else 'FAIL'}")
    return 0


def cmd_layer(args) -> int:
    ws = open_workspace(args)
    metrics = args.metrics.split(",") if args.metrics else None
    df = ws.layer_table(metrics=metrics, delta=args.delta)
    if args.json:
        print(json.dumps(_clean(df.to_dict(orient="records")), ensure_ascii=False))
    else:
        df.to_csv(sys.stdout if args.csv in (None, "-") else args.csv, index=False)
    return 0


def cmd_models(args) -> int:
    from neurodash.models import available_models
    for row in available_models():
        print(f"{row['name']:<28s} {row['source']:<40s} {row['weights']}")
    return 0


def cmd_layers(args) -> int:
    from neurodash import models
    loaded = models.load_model(args.model, weights=args.weights, arch=args.arch)
    for info in models.list_layers(loaded):
        print(f"{info.name:<40s} {info.kind:<24s} {tuple(info.shape)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m neurodash", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("precompute", help="build a workspace's cache")
    add_workspace_options(s)
    s.set_defaults(func=cmd_precompute)

    s = sub.add_parser("report", help="everything the neuron page shows, for one neuron")
    add_workspace_options(s)
    s.add_argument("--neuron", type=int, required=True)
    out = s.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--csv", nargs="?", const="-", default=None, help="concept rows as CSV (file or -)")
    s.add_argument("--metrics", default=None, help="comma-separated metric names")
    s.add_argument("--top-concepts", type=int, default=5)
    s.add_argument("--delta", type=float, default=0.05)
    s.add_argument("--be", action="store_true", help="add the bootstrap ensemble (BE) report")
    s.add_argument("--be-metric", default="iou")
    s.add_argument("--K", type=int, default=100, help="bootstrap resamples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-sanity", action="store_true", help="skip the sanity tests")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("layer", help="the layer table (CSV, or JSON records)")
    add_workspace_options(s)
    s.add_argument("--metrics", default=None)
    s.add_argument("--delta", type=float, default=0.05)
    s.add_argument("--json", action="store_true")
    s.add_argument("--csv", default=None, help="output file (default stdout)")
    s.set_defaults(func=cmd_layer)

    s = sub.add_parser("models", help="the models neurodash can load, and whether weights are here")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("layers", help="a model's layers with output shapes")
    s.add_argument("--model", default="shapes-cnn")
    s.add_argument("--weights", default=None)
    s.add_argument("--arch", default=None)
    s.set_defaults(func=cmd_layers)

    # Extension point: the SIEVE engineer's `verify` (and anything else) registers itself here.
    try:
        plugin = importlib.import_module("neurodash.sieve_cli")
    except ModuleNotFoundError as err:
        if err.name != "neurodash.sieve_cli":
            raise
    else:
        plugin.register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one clear line, not a traceback
        if os.environ.get("NEURODASH_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"neurodash {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
