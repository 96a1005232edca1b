"""The fingerprint of a workspace: a hash of everything that changes its numbers.

The cache directory is keyed by the recipe alone (so triage notes survive a weights change); its
``meta.json`` records this fingerprint, and a mismatch means "recompute". It covers the recipe, the
model weights, the CLIP of a CLIP concept source, the probe's listing, the concept names and the
cache format version.
"""

from __future__ import annotations

from pathlib import Path

from neurodash import cache as cache_mod
from neurodash.paths import regular_file
from neurodash.recipe import Recipe, RecipeError


def input_hash(path, root: Path, what: str) -> str:
    """Content hash of an input file (memo keyed by inode, size, mtime and ctime; see cache)."""
    return cache_mod.memo_file_sha256(regular_file(path, what, RecipeError), root)


def weights_identity(recipe: Recipe, root: Path) -> str:
    """Content hash of the model weights the recipe loads ("random" for a random init)."""
    r = recipe
    if r.weights == "random":
        return "random"
    if r.weights:
        return input_hash(r.weights, root, "weights file") + _config_hash(r.model, root)
    if r.model == "shapes-cnn":
        from neurodash.world import cnn
        return cache_mod.memo_file_sha256(cnn.CNN_WEIGHTS, root)
    if r.model == "tiny-clip":
        return tiny_clip_identity(root)
    from neurodash import models
    path = models.pretrained_file(r.model)  # fetched into its library's cache if missing
    if path is None:
        raise models.ModelError(f"model {r.model} needs --weights FILE")
    return cache_mod.memo_file_sha256(path, root)


def tiny_clip_identity(root: Path) -> str:
    from neurodash.world import clip as wclip
    return cache_mod.memo_file_sha256(wclip.CLIP_WEIGHTS, root)


def clip_identity(recipe: Recipe, root: Path) -> str:
    """Content hash of the CLIP behind a CLIP concept source ("" for ground truth)."""
    src = recipe.concept_source
    if src == "clip":
        if recipe.clip_weights:
            return input_hash(recipe.clip_weights, root, "CLIP weights file")
        return tiny_clip_identity(root)
    if src.startswith("open_clip:"):
        from neurodash.models import pretrained_file
        path = recipe.clip_weights or pretrained_file(src)  # a pretrained tag's cached file
        if not path:
            raise RecipeError(f"concept source {src} needs a pretrained tag ({src}/<tag>) or "
                              "--clip-weights FILE")
        return input_hash(path, root, "CLIP weights file") + _config_hash(src, root)
    return ""


def _config_hash(model: str, root: Path) -> str:
    """The content of an open_clip model-config JSON named by path (its numbers depend on it)."""
    if model.startswith("open_clip:") and model.endswith(".json"):
        return ":" + input_hash(model.split(":", 1)[1], root, "open_clip model config")
    return ""


def fingerprint(recipe: Recipe, root: Path, probe_listing_hash: str, concept_names: list[str]) -> str:
    return cache_mod.stable_hash({
        "recipe": recipe.key(),
        "weights": weights_identity(recipe, root),
        "clip": clip_identity(recipe, root),
        "probe": probe_listing_hash,
        "concepts": list(concept_names),
        "format": cache_mod.FORMAT_VERSION,
    })
