"""`python -m neurodash verify ...`: SIEVE's Verify step and its layer-wide mean-AR table.

    verify --neuron N --concept NAME [--generator world|diffusers] [--m M] [--json]
    verify --layer-table [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from neurodash import sieve
from neurodash.cli import options
from neurodash.generate import get_generator
from neurodash.sieve.renders import DEFAULT_M


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "verify", help="SIEVE Verify: Activation Rate of a concept for a neuron, or the mean-AR table",
        description="Render m images of a concept, feed them to the workspace's model and report the "
                    "share that push the neuron above its top-1%% probe threshold (Activation Rate), "
                    "with a binomial interval, a control concept's AR and the verdict.")
    options.add_workspace_options(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--neuron", type=options.nonnegative_int, help="neuron (channel) index")
    what.add_argument("--layer-table", action="store_true",
                      help="mean AR per explanation source over the layer (the SIEVE paper's main table)")
    p.add_argument("--concept", default=None, help="the concept to verify (with --neuron)")
    p.add_argument("--control", default=None, help="control concept (default: the least related one)")
    p.add_argument("--generator", default="world", choices=["world", "diffusers"])
    p.add_argument("--diffusers-model", default=None,
                   help="diffusers pipeline directory or a model id (Hugging Face cache; downloads "
                        "when missing and online, never with --offline)")
    p.add_argument("--template", default="a photo of {}", help="prompt template for diffusers")
    p.add_argument("--steps", type=options.positive_int, default=25, help="diffusers inference steps")
    p.add_argument("--batch-size", type=options.positive_int, default=4, help="diffusers images per batch")
    p.add_argument("--m", type=options.positive_int, default=DEFAULT_M,
                   help=f"images rendered per concept (default {DEFAULT_M})")
    p.add_argument("--hard-render", action="store_true",
                   help="world generator: one instance of the concept per render instead of 2-3 medium-sized ones")
    p.add_argument("--seed", type=options.nonnegative_int, default=0)
    p.add_argument("--threshold", type=options.unit, default=None,
                   help="AR to keep a hypothesis (default: mean AR of SIEVE's hypotheses on the layer)")
    p.add_argument("--beta", type=options.positive_float, default=10.0, help="Select: P99/median must exceed this")
    p.add_argument("--confidence", type=options.open_unit, default=0.95, help="level of the AR interval")
    p.add_argument("--top-fraction", type=options.open_unit, default=0.01,
                   help="a render counts when it beats the neuron's top-fraction probe activation "
                        "(0.01: the paper's top 1%%)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_verify)
    return p


def _generator(args):
    if args.generator == "diffusers":
        return get_generator("diffusers", model=args.diffusers_model, template=args.template,
                             steps=args.steps, batch_size=args.batch_size)
    return get_generator("world", hard=args.hard_render)


def cmd_verify(args) -> int:
    if args.neuron is not None and not args.concept:
        raise ValueError("--neuron needs --concept NAME")
    if args.m < 1:
        raise ValueError("--m must be at least 1")
    generator = _generator(args)  # fails fast on bad generator options, before any compute
    if args.generator == "diffusers" and args.threshold is None:
        print("note: the default threshold is the layer's mean AR over every SIEVE hypothesis, so every "
              "hypothesis concept is rendered once (cached); pass --threshold to verify one concept only",
              file=sys.stderr)
    ws = options.open_workspace(args)
    bar = options.TqdmProgress("verify")
    try:
        if args.layer_table:
            table = sieve.layer_table(ws, generator=generator, m=args.m, seed=args.seed, beta=args.beta,
                                      threshold=args.threshold, top_fraction=args.top_fraction, progress=bar)
        else:
            res = sieve.verify(ws, args.neuron, args.concept, generator=generator, m=args.m, seed=args.seed,
                               control=args.control, threshold=args.threshold, confidence=args.confidence,
                               beta=args.beta, top_fraction=args.top_fraction, progress=bar)
    finally:
        bar.close()
    options.print_notices(ws)
    if args.layer_table:
        out = {"workspace": ws.recipe.to_dict(), **table.attrs, "rows": table.to_dict(orient="records")}
        if args.json:
            print(json.dumps(options.clean(out), ensure_ascii=False))
        else:
            print(f"mean AR per explanation source · {ws.recipe.label()} · generator {generator.name}, "
                  f"m={args.m}, keep-threshold {table.attrs['keep_threshold']:.3f}, "
                  f"{table.attrs['selective_neurons']}/{table.attrs['neurons']} neurons selective")
            print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        return 0
    d = res.to_dict()
    if args.json:
        print(json.dumps(options.clean({"workspace": ws.recipe.to_dict(), **d}), ensure_ascii=False))
    else:
        lo, hi = res.interval
        clo, chi = res.control_interval
        print(f"neuron {res.neuron} · {res.concept!r} via {res.generator} (m={res.m}, seed={res.seed})")
        print(f"  AR {res.ar:.3f}  [{lo:.3f}, {hi:.3f}] ({res.confidence:.0%} Wilson)  "
              f"{res.hits}/{res.m} renders above the top-{res.top_fraction:.0%} activation "
              f"{res.activation_threshold:.4g}")
        print(f"  control {res.control!r}: AR {res.control_ar:.3f}  [{clo:.3f}, {chi:.3f}]  "
              f"(one-sided Fisher p = {res.p_vs_control:.3g})")
        if res.random_concept:
            rlo, rhi = res.random_interval
            print(f"  random concept {res.random_concept!r}: AR {res.random_ar:.3f}  [{rlo:.3f}, {rhi:.3f}]")
        print(f"  threshold {res.threshold:.3f} ({res.threshold_source}) -> {res.verdict}")
    return 0

