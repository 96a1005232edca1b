"""What a workspace computes: the Recipe, declared once.

Each field carries its own metadata (label, help, CLI flag, choices, whether it is an advanced
option), from which the CLI options (`neurodash.cli.options`) and the sidebar widgets
(`neurodash.ui.context`) are both built, so a new field is added here and nowhere else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from neurodash.cache import stable_hash

# The shapes world's default probe. At 10,000 each kind is in ~96 images, so a detector unit's IoU
# band 2r is ~0.39 (0.55 at 5,000) and the band clears the runner-up for 74% of units (54% at
# 5,000); precompute from nothing stays under a minute on 2 cores (README: "Why 10,000").
DEFAULT_PROBE_N = 10000


class RecipeError(ValueError):
    """A recipe value is not valid; the message names the field and the valid choices."""


def option(help: str, *, label: str, flag: str | None = None, choices: tuple = (),
           suggestions: tuple = (), widget: str = "select", advanced: bool = False,
           minimum: int | None = None, world_only: bool = False) -> dict:
    """Field metadata. widget: "select" (a pick list, new values allowed unless `choices`),
    "number", "text" or "layer" (options come from the model). world_only: meaningful only for the
    shapes-world probe."""
    return {"help": help, "label": label, "flag": flag, "choices": tuple(choices),
            "suggestions": tuple(suggestions), "widget": widget, "advanced": advanced,
            "minimum": minimum, "world_only": world_only}


def _abs(p: str | None) -> str | None:
    return None if p in (None, "") else str(Path(p).expanduser().resolve())


@dataclass(frozen=True)
class Recipe:
    """What a workspace computes. Paths are stored absolute, so the key does not depend on cwd."""
    model: str = field(default="shapes-cnn", metadata=option(
        "shapes-cnn, tiny-clip, a torchvision name with its weights enum (resnet50 = DEFAULT, "
        "resnet50:IMAGENET1K_V1), open_clip:<arch>/<pretrained tag>, or checkpoint (with weights "
        "and arch)", label="Model", suggestions=("shapes-cnn", "tiny-clip")))
    layer: str = field(default="", metadata=option(
        "layer name (see `python -m neurodash layers`); default for shapes-cnn", label="Layer",
        widget="layer"))
    probe: str = field(default="world", metadata=option(
        "'world' (the shapes world), an image folder (class sub-folders label it: ImageNet "
        "synsets or class names), or a Broden folder (NetDissect layout: pixel masks)",
        label="Probe", suggestions=("world",)))
    probe_n: int = field(default=DEFAULT_PROBE_N, metadata=option(
        "world probe size (images)", label="World probe size", widget="number", minimum=1,
        world_only=True))
    probe_seed: int = field(default=0, metadata=option(
        "world probe seed", label="World probe seed", widget="number", minimum=0, advanced=True,
        world_only=True))
    concept_set: str = field(default="world", metadata=option(
        "world, imagenet, words-20k (CLIP-Dissect), words-3k (SIEVE), broden:<folder>, or a text "
        "file with one concept a line", label="Concept set",
        flag="--concepts", suggestions=("world", "imagenet", "words-20k", "words-3k")))
    concept_source: str = field(default="ground_truth", metadata=option(
        "ground_truth (the probe's labels), clip (the shipped tiny CLIP scores each concept) or "
        "open_clip:<arch>/<pretrained tag> (e.g. open_clip:ViT-B-32/laion2b_s34b_b79k)",
        label="Concept source", suggestions=("ground_truth", "clip")))
    clip_mode: str = field(default="softmax", metadata=option(
        "CLIP activations: softmax over concepts (CLIP-Dissect) or a calibrated sigmoid",
        label="CLIP activations", choices=("softmax", "sigmoid"), advanced=True))
    pooling: str = field(default="auto", metadata=option(
        "pooling of a layer's spatial map (auto: mean for conv, CLS for tokens)", label="Pooling",
        choices=("auto", "mean", "max", "cls"), advanced=True))
    weights: str | None = field(default=None, metadata=option(
        "model weights file (.safetensors or a state dict); 'random' for a random torchvision init",
        label="Model weights file", widget="text", advanced=True))
    arch: str | None = field(default=None, metadata=option(
        "torchvision architecture for --model checkpoint", label="Architecture (for 'checkpoint')",
        widget="text", advanced=True))
    clip_weights: str | None = field(default=None, metadata=option(
        "checkpoint for an open_clip concept source", label="open_clip weights file", widget="text",
        advanced=True))
    labels_csv: str | None = field(default=None, metadata=option(
        "ground-truth labels (CSV) of a folder probe", label="Labels CSV of a folder probe",
        widget="text", advanced=True))

    def __post_init__(self):
        norm = object.__setattr__
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise RecipeError(f"{f.name} must be one of {', '.join(choices)}; got "
                                  f"{getattr(self, f.name)!r}")
            minimum = f.metadata.get("minimum")
            if minimum is not None:
                value = getattr(self, f.name)
                if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                    raise RecipeError(f"{f.name} must be an integer ≥ {minimum}; got {value!r}")
        if self.probe != "world":
            norm(self, "probe", _abs(self.probe))
        from neurodash.concepts import is_named_set
        if self.concept_set.startswith("broden:"):
            norm(self, "concept_set", "broden:" + _abs(self.concept_set.split(":", 1)[1]))
        elif not is_named_set(self.concept_set):
            norm(self, "concept_set", _abs(self.concept_set))
        if self.weights not in (None, "random"):
            norm(self, "weights", _abs(self.weights))
        norm(self, "clip_weights", _abs(self.clip_weights))
        norm(self, "labels_csv", _abs(self.labels_csv))
        if self.model.startswith("open_clip:") and self.model.endswith(".json"):
            norm(self, "model", "open_clip:" + _abs(self.model.split(":", 1)[1]))
        if not self.layer and self.model == "shapes-cnn":
            from neurodash import world
            norm(self, "layer", world.CNN_DEFAULT_LAYER)
        if not self.layer:
            raise RecipeError(f"a layer is needed for model {self.model}; list them with "
                              f"`python -m neurodash layers --model {self.model}`")

    @classmethod
    def default(cls) -> "Recipe":
        return cls()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def key(self) -> str:
        return stable_hash(self.to_dict())[:20]

    def label(self) -> str:
        probe = f"world(n={self.probe_n}, seed={self.probe_seed})" if self.probe == "world" else self.probe
        return f"{self.model} · {self.layer} · {probe} · {self.concept_set} / {self.concept_source}"


def recipe_fields():
    """The Recipe's fields with their metadata, in declaration order."""
    return fields(Recipe)
