"""The training entry point runs end to end on a tiny budget, into a temp dir, never touching assets/."""
import hashlib
import json

import numpy as np
import torch

from neurodash import world
from neurodash.world import clip as world_clip
from neurodash.world import cnn as world_cnn
from neurodash.world.train import main


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_train_cnn_tiny_budget(tmp_path):
    before = _digest(world_cnn.CNN_WEIGHTS)
    assert main(["cnn", "--steps", "2", "--batch", "8", "--eval-n", "40", "--out", str(tmp_path), "--threads", "1"]) == 0
    assert _digest(world_cnn.CNN_WEIGHTS) == before
    model = world_cnn.load_cnn(tmp_path / "shapes_cnn.safetensors")
    with torch.no_grad():
        out = model(world_cnn.images_to_tensor(world.sample(2, masks=False)[0]))
    assert out.shape == (2, len(world.vocabulary())) and torch.isfinite(out).all()
    record = json.loads((tmp_path / "shapes_cnn.record.json").read_text())
    assert record["config"]["steps"] == 2 and record["train_seconds"] > 0
    assert 0 <= record["quality"]["shape"]["accuracy"] <= 1


def test_train_clip_tiny_budget(tmp_path):
    before = _digest(world_clip.CLIP_WEIGHTS)
    assert main(["clip", "--steps", "2", "--batch", "8", "--eval-n", "60", "--out", str(tmp_path), "--threads", "1"]) == 0
    assert _digest(world_clip.CLIP_WEIGHTS) == before
    model, _, tokenizer = world_clip.load_clip(tmp_path / "tiny_clip.safetensors")
    emb = world.clip_encode_texts(model, tokenizer, ["star"])
    assert emb.shape[0] == 1 and np.isfinite(emb).all()
    record = json.loads((tmp_path / "tiny_clip.record.json").read_text())
    assert "mean_auroc" in record["quality"]


def _caption_names(text):
    """Concept names a caption lists, by undoing its template (an oracle independent of caption_batch)."""
    import re

    for template in world_clip.CAPTION_TEMPLATES:
        pattern = "^" + re.escape(template).replace(re.escape("{}"), "(.+)") + "$"
        m = re.match(pattern, text)
        if m and all(name in world.vocabulary() for name in m.group(1).split(", ")):
            return m.group(1).split(", ")
    raise AssertionError(f"caption {text!r} fits no template")


def test_caption_truth_means_every_named_concept_is_present():
    rng = np.random.default_rng(0)
    _, labels, _ = world.sample(64, seed=9, masks=False)
    texts, truth = world_clip.caption_batch(labels, rng)
    assert len(texts) == 64 and truth.shape == (64, 64)
    assert truth.diagonal().all()  # each caption is true of its own image
    assert not truth.all()  # and not of every image
    names = world.vocabulary()
    for j, text in enumerate(texts):
        cols = [names.index(n) for n in _caption_names(text)]
        np.testing.assert_array_equal(truth[:, j], labels[:, cols].all(axis=1))
