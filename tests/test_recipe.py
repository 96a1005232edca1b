"""The Recipe: key, absolute paths, validation, and the CLI options built from its metadata."""
import json

import pytest

from neurodash.cli import build_parser
from neurodash.cli.options import recipe_from_args
from neurodash.recipe import Recipe, RecipeError, recipe_fields


def test_recipe_key_and_paths(cnn_weights, tmp_path, monkeypatch):
    a = Recipe(weights=str(cnn_weights), probe_n=100)
    monkeypatch.chdir(cnn_weights.parent)
    b = Recipe(weights=cnn_weights.name, probe_n=100)      # relative path, same file
    assert a == b and a.key() == b.key() and a.layer == "block4"
    assert Recipe(weights=str(cnn_weights), probe_n=101).key() != a.key()
    assert Recipe.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(RecipeError, match="layer is needed"):
        Recipe(model="resnet18")


def test_invalid_values_are_refused_with_the_field_name():
    with pytest.raises(RecipeError, match="probe_n"):
        Recipe(probe_n=0)
    with pytest.raises(RecipeError, match="pooling must be one of"):
        Recipe(pooling="median")
    with pytest.raises(RecipeError, match="clip_mode"):
        Recipe(clip_mode="tanh")


def test_cli_options_come_from_the_recipe_fields():
    parser = build_parser()
    args = parser.parse_args(["precompute"])
    assert recipe_from_args(args) == Recipe.default()
    args = parser.parse_args(["report", "--neuron", "1", "--concepts", "imagenet", "--probe-n", "300",
                              "--pooling", "max", "--concept-source", "clip"])
    r = recipe_from_args(args)
    assert (r.concept_set, r.probe_n, r.pooling, r.concept_source) == ("imagenet", 300, "max", "clip")
    # every field has a flag and a help text, and choices reach argparse
    text = parser._subparsers._group_actions[0].choices["layer"].format_help()
    for f in recipe_fields():
        assert f.metadata["help"] and f.metadata["label"]
        assert (f.metadata.get("flag") or "--" + f.name.replace("_", "-")) in text
    with pytest.raises(SystemExit):
        parser.parse_args(["precompute", "--pooling", "median"])
