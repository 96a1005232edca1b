"""`precompute`, `report` (one neuron) and `layer` (the layer table) on a workspace."""

from __future__ import annotations

import json
import sys

from neurodash import analysis, reports, triage
from neurodash.annotations import annotation_columns
from neurodash.cli import options
from neurodash.stats import metrics as M


def register(sub) -> None:
    s = sub.add_parser("precompute", help="build a workspace's cache")
    options.add_workspace_options(s)
    options.add_engine_options(s)
    s.set_defaults(func=cmd_precompute)

    s = sub.add_parser("report", help="everything the neuron page shows, for one neuron")
    options.add_workspace_options(s)
    s.add_argument("--neuron", type=options.nonnegative_int, required=True)
    out = s.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--csv", nargs="?", const="-", default=None, help="concept rows as CSV (file or -)")
    s.add_argument("--metrics", type=options.metric_list, default=None, help="comma-separated metric names")
    s.add_argument("--top-concepts", type=options.positive_int, default=5)
    s.add_argument("--delta", type=options.open_unit, default=0.05, help="δ of the bands (0 < δ < 1)")
    s.add_argument("--be", action="store_true", help="add the bootstrap ensemble (BE) report")
    s.add_argument("--be-metric", default="iou", choices=list(M.METRICS))
    s.add_argument("--K", type=options.positive_int, default=100, help="bootstrap resamples")
    s.add_argument("--seed", type=options.nonnegative_int, default=0)
    s.add_argument("--no-sanity", action="store_true", help="skip the sanity tests")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("layer", help="the layer table (CSV, or JSON records)")
    options.add_workspace_options(s)
    s.add_argument("--metrics", type=options.metric_list, default=None, help="comma-separated metric names")
    s.add_argument("--delta", type=options.open_unit, default=0.05, help="δ of the bands (0 < δ < 1)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--csv", default=None, help="output file (default stdout)")
    s.add_argument("--flag-metric", default=None, choices=list(M.METRICS),
                   help="metric of the automatic triage flags (default: the first of --metrics)")
    s.add_argument("--be", action="store_true", help="add BE over the layer to the flags' evidence (slower)")
    s.add_argument("--K", type=options.positive_int, default=100, help="BE resamples (with --be)")
    s.add_argument("--seed", type=options.nonnegative_int, default=0)
    s.set_defaults(func=cmd_layer)


def cmd_precompute(args) -> int:
    ws, sharded = options.build_workspace(args)
    print(f"ready: {ws.recipe.label()}  [{ws.n_images} images × {ws.n_neurons} neurons × "
          f"{len(ws.concept_names)} concepts]  {ws.cache.path}")
    if sharded is not None:
        fresh, total = len(sharded.computed["extract"]), len(sharded.ranges)
        print(f"shards: {total}; {fresh} computed now, {total - fresh} taken from the store of an "
              "earlier run")
    report = ws.meta.get("probe_report")
    if report:
        print(report)
    options.print_notices(ws)
    return 0


def neuron_report(ws, neuron: int, *, metrics=None, top_concepts=5, delta=0.05, be=False, K=100,
                  seed=0, be_metric="iou", sanity=True) -> dict:
    """Everything the neuron page shows, as one JSON-ready dict."""
    card = analysis.neuron_card(ws, neuron, metrics=metrics, top_concepts=top_concepts, delta=delta)
    out = {"workspace": ws.recipe.to_dict(), "workspace_key": ws.recipe.key(), **card.to_json(),
           "annotation": ws.annotations.get(card.neuron).to_json()}
    out["top_images"] = [{"id": int(i), "activation": float(a)} for i, a in zip(card.top_ids, card.top_acts)]
    if be:
        out["bootstrap"] = analysis.bootstrap(ws, neuron, metric=be_metric, K=K, seed=seed, delta=delta).to_json()
    if sanity:
        ms = [m for m in (metrics or ws.default_metrics()) if m in M.METRICS]
        df = analysis.sanity_report(ws, metrics=ms, seed=seed)
        out["sanity"] = {str(m): {c: options.clean(df.loc[m, c]) for c in df.columns} for m in df.index}
    return options.clean(out)


def _report_rows(rep: dict) -> list[dict]:
    rows = []
    for metric, cs in rep["concepts"].items():
        for rank, c in enumerate(cs, start=1):
            rows.append({"neuron": rep["neuron"], "metric": metric, "rank": rank, **c,
                         "selectivity": rep["selectivity"], "selective": rep["selective"]})
    return rows


def _print_report(rep: dict, layer: str) -> None:
    sel = rep["selectivity"]
    print(f"neuron {rep['neuron']} of {layer} · selectivity {'inf' if sel is None else f'{sel:.3g}'} "
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
              f"{b['stability']:.2f}, coverage {'vacuous' if b['vacuous'] else format(b['coverage'], '.3f')}")
    for m, v in rep.get("sanity", {}).items():
        print(f"  sanity {m}: {'pass' if v.get('passed') else 'FAIL'}")


def cmd_report(args) -> int:
    ws = options.open_workspace(args)
    metrics = args.metrics
    rep = neuron_report(ws, args.neuron, metrics=metrics, top_concepts=args.top_concepts,
                        delta=args.delta, be=args.be, K=args.K, seed=args.seed,
                        be_metric=args.be_metric, sanity=not args.no_sanity)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
    elif args.csv:
        import pandas as pd
        _write_csv(pd.DataFrame(_report_rows(rep)), args.csv)
    else:
        _print_report(rep, ws.layer)
    options.print_notices(ws)
    return 0


def _write_csv(df, target) -> None:
    """CSV to stdout (target None or "-") or to a file, confirmed on stderr (stdout stays the data)."""
    if target in (None, "-"):
        reports.to_csv(df, sys.stdout)
        return
    reports.to_csv(df, target)
    print(f"wrote {len(df)} rows × {len(df.columns)} columns to {target}", file=sys.stderr)


def layer_with_flags(ws, *, metrics=None, delta=0.05, flag_metric=None, be=False, K=100, seed=0):
    """The layer table with each unit's saved triage record and its automatic flags, reasons and
    severity under `flag_metric` (evidence: band and selectivity, plus BE over the layer with be=True)."""
    metrics = list(metrics or ws.default_metrics())
    flag_metric = flag_metric or metrics[0]
    df = analysis.layer_table(ws, metrics=list(dict.fromkeys(metrics + [flag_metric])), delta=delta)
    notes = annotation_columns(ws.annotations.all(), df["neuron"])
    df = df.join(notes[["status", "manual_flags", "note"]], on="neuron")
    be_table = reports.layer_be(ws, metric=flag_metric, K=K, seed=seed, delta=delta) if be else None
    evidence = reports.triage_evidence(ws, df, flag_metric, be=be_table)
    flags = triage.flag_table(evidence)
    df["flag_metric"] = flag_metric
    df["auto_flags"] = flags["flags"].to_numpy()
    df["severity"] = flags["severity"].to_numpy()
    df["reasons"] = flags["reasons"].to_numpy()
    return df


def cmd_layer(args) -> int:
    ws = options.open_workspace(args)
    df = layer_with_flags(ws, metrics=args.metrics, delta=args.delta, flag_metric=args.flag_metric,
                          be=args.be, K=args.K, seed=args.seed)
    if args.json:
        print(json.dumps(options.clean(df.to_dict(orient="records")), ensure_ascii=False))
    else:
        _write_csv(df, args.csv)
    options.print_notices(ws)
    return 0
