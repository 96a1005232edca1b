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
    assert 0 <= record["quality"]["all"]["accuracy"] <= 1
    assert list(record["per_class"]) == world.vocabulary()
    assert record["selectivity"]["units"] == len(world.vocabulary())
    assert not list(tmp_path.glob("*.partial.*"))  # checkpoints are removed once the weights are out


def test_train_resumes_from_a_checkpoint(tmp_path):
    """A cut-off run continues where its last checkpoint left off (same step, same optimiser)."""
    from neurodash.world.train import Checkpoint, _schedule

    torch.manual_seed(0)
    model = world_cnn.ShapesCNN(len(world.vocabulary()))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    Checkpoint(tmp_path, "shapes_cnn").save(model, opt, _schedule(opt, 4), 3)
    assert main(["cnn", "--steps", "4", "--batch", "4", "--eval-n", "0", "--out", str(tmp_path), "--resume"]) == 0
    record = json.loads((tmp_path / "shapes_cnn.record.json").read_text())
    assert record["resumed_at_step"] == 3
    assert not list(tmp_path.glob("*.partial.*"))


def test_train_clip_tiny_budget(tmp_path):
    before = _digest(world_clip.CLIP_WEIGHTS)
    assert main(["clip", "--steps", "2", "--batch", "8", "--eval-n", "60", "--out", str(tmp_path), "--threads", "1"]) == 0
    assert _digest(world_clip.CLIP_WEIGHTS) == before
    model, _, tokenizer = world_clip.load_clip(tmp_path / "tiny_clip.safetensors")
    emb = world.clip_encode_texts(model, tokenizer, ["star"])
    assert emb.shape[0] == 1 and np.isfinite(emb).all()
    record = json.loads((tmp_path / "tiny_clip.record.json").read_text())
    assert "mean_auroc" in record["quality"] and "attributes_mean_auroc" in record["quality"]


def _caption_names(text, vocabulary):
    """Concept names a caption lists, by undoing its template (an oracle independent of caption_batch)."""
    import re

    for template in world_clip.CAPTION_TEMPLATES:
        pattern = "^" + re.escape(template).replace(re.escape("{}"), "(.+)") + "$"
        m = re.match(pattern, text)
        if m and all(name in vocabulary for name in m.group(1).split(", ")):
            return m.group(1).split(", ")
    raise AssertionError(f"caption {text!r} fits no template")


def test_caption_truth_means_every_named_concept_is_present():
    from neurodash.world.sampling import sample_with_attributes

    rng = np.random.default_rng(0)
    _, kinds, attributes = sample_with_attributes(64, seed=9, mix="train")
    texts, truth = world_clip.training_texts(kinds, attributes, rng)
    names = world.vocabulary() + world.vocabulary("attributes")
    labels = np.concatenate([kinds, attributes], axis=1)
    assert len(texts) == 64 + len(names) and truth.shape == (64, 64 + len(names))
    assert truth[:, :64].diagonal().all()  # each caption is true of its own image
    assert not truth[:, :64].all()  # and not of every image
    named_kinds = 0
    for j, text in enumerate(texts[:64]):
        cols = [names.index(n) for n in _caption_names(text, names)]
        named_kinds += any(c < kinds.shape[1] for c in cols)
        np.testing.assert_array_equal(truth[:, j], labels[:, cols].all(axis=1))
    assert named_kinds >= 16  # captions often name an object kind (preferred 4:1 over an attribute)
    np.testing.assert_array_equal(truth[:, 64:], labels)  # then every concept of both sets


def test_remeasure_updates_the_quality_and_keeps_how_the_weights_were_trained(tmp_path):
    import shutil

    from neurodash.world.store import CNN_WEIGHTS

    shutil.copy(CNN_WEIGHTS, tmp_path / "shapes_cnn.safetensors")
    before = {"command": "python -m neurodash.world.train cnn --steps 7", "train_seconds": 1.5,
              "quality": {"all": {"balanced_accuracy": -1.0}}}
    (tmp_path / "shapes_cnn.record.json").write_text(json.dumps(before))
    assert main(["cnn", "--remeasure", "--eval-n", "60", "--out", str(tmp_path)]) == 0
    after = json.loads((tmp_path / "shapes_cnn.record.json").read_text())
    assert after["command"] == before["command"] and after["train_seconds"] == 1.5
    assert 0.5 < after["quality"]["all"]["balanced_accuracy"] <= 1  # measured, not the stale -1
    assert set(after["per_class"]) == set(world.vocabulary()) and after["selectivity"]["n"] == 60
    assert "--remeasure" in after["remeasured"]["command"]
