"""`coverage`: observed BE coverage of the fresh-probe best concept vs Thm 4.1's mean claim, for
several probe sizes around the workspace's (shapes world, ground-truth concepts)."""

from __future__ import annotations

import json
import sys

from neurodash.cli import options


def register(sub) -> None:
    s = sub.add_parser("coverage", help="observed vs claimed BE coverage across probe sizes (shapes world)")
    options.add_workspace_options(s)
    s.add_argument("--sizes", default=None,
                   help="comma-separated probe sizes (default: n/8, n/4, n/2, n up to the recipe's probe size)")
    s.add_argument("--metric", default="iou", help="BE metric (and the fresh-probe truth's)")
    s.add_argument("--K", type=int, default=100, help="bootstrap resamples")
    s.add_argument("--t", type=float, default=None, help="BE set threshold (default 0.95 K)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--fresh-factor", type=int, default=None, help="fresh probe size / largest probe size (>= 10)")
    s.add_argument("--json", action="store_true", help="one JSON object on stdout")
    s.set_defaults(func=cmd_coverage)


def cmd_coverage(args) -> int:
    from neurodash.coverage import FRESH_FACTOR, coverage_study, default_sizes

    recipe = options.recipe_from_args(args)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else default_sizes(recipe.probe_n)
    factor = FRESH_FACTOR if args.fresh_factor is None else args.fresh_factor
    if factor < FRESH_FACTOR:
        raise ValueError(f"--fresh-factor must be at least {FRESH_FACTOR} (the truth needs a bigger probe)")
    bar = options.TqdmProgress("coverage")
    try:
        out = coverage_study(recipe, sizes, metric=args.metric, K=args.K, t=args.t, seed=args.seed,
                             fresh_factor=factor, home=args.home, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(options.clean(out), ensure_ascii=False))
        return 0
    print(f"coverage · {recipe.label()} · BE {out['metric']}, K={out['K']}, t={out['t']:g} · truth: best "
          f"{out['metric']} on a fresh probe of {out['fresh']['n']} images (seed {out['fresh']['seed']})")
    for r in out["sizes"]:
        print(f"  n={r['n']:>6}: observed {r['observed']:.2f} · claimed {r['claimed']:.2f} · non-vacuous "
              f"{r['non_vacuous']}/{r['units']} · mean set size {r['mean_set_size']:.2f}", file=sys.stdout)
    return 0
