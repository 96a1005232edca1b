"""`models` (what neurodash can load) and `layers` (a model's layers and output shapes)."""

from __future__ import annotations


def register(sub) -> None:
    s = sub.add_parser("models", help="the models neurodash can load, and whether weights are here")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("layers", help="a model's layers with output shapes (no weights needed)")
    s.add_argument("--model", default="shapes-cnn")
    s.add_argument("--offline", action="store_true", help="never download pretrained files")
    s.add_argument("--weights", default=None)
    s.add_argument("--arch", default=None)
    s.set_defaults(func=cmd_layers)


def cmd_models(args) -> int:
    from neurodash.models import available_models
    for row in available_models():
        print(f"{row['name']:<28s} {row['source']:<40s} {row['weights']}")
    return 0


def cmd_layers(args) -> int:
    from neurodash import models
    # the architecture alone: shapes do not depend on the weights, so nothing is fetched
    loaded = models.load_architecture(args.model, weights=args.weights, arch=args.arch)
    for info in models.list_layers(loaded):
        print(f"{info.name:<40s} {info.kind:<24s} {tuple(info.shape)}")
    return 0
