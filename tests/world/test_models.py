"""The shipped CNN and tiny CLIP load from assets/ on CPU and reach their recorded quality on fresh
images (a seed that neither training nor the recorded evaluation used)."""
import json
import math

import numpy as np
import pytest
import torch

from neurodash import world
from neurodash.world import cnn as world_cnn
from neurodash.world import clip as world_clip
from neurodash.world.quality import clip_concept_auroc, cnn_attribute_accuracy

TEST_SEED = 424_242
MARGIN = 0.04  # measured on 1200 images; the sampling s.d. of these figures is about 0.01


@pytest.fixture(scope="module")
def cnn():
    return world.load_cnn()


@pytest.fixture(scope="module")
def clip():
    return world.load_clip()


def test_cnn_loads_on_cpu_in_eval_mode_with_its_default_layer(cnn):
    assert not cnn.training
    assert all(p.device.type == "cpu" for p in cnn.parameters())
    layer = cnn.get_submodule(world.CNN_DEFAULT_LAYER)
    seen = {}
    handle = layer.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    images = world.sample(4, seed=1, masks=False)[0]
    with torch.no_grad():
        logits = cnn(world_cnn.images_to_tensor(images))
    handle.remove()
    assert logits.shape == (4, len(world.vocabulary()))
    assert seen["out"].ndim == 4 and seen["out"].shape[1] <= 128


def test_cnn_asset_is_small():
    assert world_cnn.CNN_WEIGHTS.stat().st_size < 4 * 2**20


def test_cnn_reaches_recorded_accuracy_on_fresh_images(cnn):
    record = json.loads(world_cnn.CNN_META.read_text())["quality"]
    measured = cnn_attribute_accuracy(cnn, n=1200, seed=TEST_SEED)
    assert set(measured) == set(record)
    for group, figures in record.items():
        assert measured[group]["balanced_accuracy"] >= figures["balanced_accuracy"] - MARGIN, group
        assert measured[group]["accuracy"] >= figures["accuracy"] - MARGIN, group
    # and the recorded figures themselves are those of a model that learned the world (the easy
    # attributes near perfectly; shape and texture less so, see assets/README.md)
    assert record["all"]["accuracy"] >= 0.9
    for group in ("colour", "background colour", "background pattern", "position"):
        assert record[group]["balanced_accuracy"] >= 0.9, group
    for group in ("shape", "texture", "size"):
        assert record[group]["balanced_accuracy"] >= 0.6, group


def test_cnn_beats_an_untrained_copy(cnn):
    """Guards against a record that any network would meet."""
    torch.manual_seed(0)
    untrained = world_cnn.ShapesCNN(len(world.vocabulary())).eval()
    trained = cnn_attribute_accuracy(cnn, n=300, seed=TEST_SEED + 1)["all"]["balanced_accuracy"]
    chance = cnn_attribute_accuracy(untrained, n=300, seed=TEST_SEED + 1)["all"]["balanced_accuracy"]
    assert chance < 0.6 < trained


def test_clip_is_an_open_clip_model_loaded_from_assets(clip):
    import open_clip

    model, preprocess, tokenizer = clip
    assert isinstance(model, open_clip.CLIP)
    assert not model.training
    assert world_clip.CLIP_NAME in open_clip.list_models()
    # the PIL preprocess open_clip made agrees with the batched array path
    from PIL import Image

    images = world.sample(3, seed=2, masks=False)[0]
    via_pil = torch.stack([preprocess(Image.fromarray(im)) for im in images])
    via_array = world_clip.images_to_clip_input(model, images)
    assert torch.allclose(via_pil, via_array, atol=0.05)


def test_clip_embeddings_are_normalised(clip):
    model, _, tokenizer = clip
    img = world.clip_encode_images(model, world.sample(5, seed=3, masks=False)[0])
    txt = world.clip_encode_texts(model, tokenizer, ["red circle", "a photo of a blue background."])
    assert img.dtype == np.float32 and txt.dtype == np.float32
    assert img.shape[1] == txt.shape[1]
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-4)


def test_clip_reaches_recorded_concept_auroc_on_fresh_images(clip):
    model, _, tokenizer = clip
    record = json.loads(world_clip.CLIP_RECORD.read_text())["quality"]
    auroc = clip_concept_auroc(model, tokenizer, n=1200, seed=TEST_SEED)
    values = [v for v in auroc.values() if not math.isnan(v)]
    assert len(values) == len(world.vocabulary())
    assert np.mean(values) >= record["mean_auroc"] - 0.02
    # the issue aims at 0.9 and the shipped model records 0.903 (assets/README.md). Chance
    # is 0.5; colours and backgrounds must be near perfect.
    assert record["mean_auroc"] >= 0.88
    for name in ("red", "blue", "white", "gray background", "grid background", "noisy background"):
        assert auroc[name] >= 0.95, name


def test_clip_text_matches_the_right_concept_renders(clip):
    """Each concept's own renders score higher against its name than its controls do."""
    model, _, tokenizer = clip
    wins = 0
    names = world.vocabulary()
    for name in names:
        pos = world.render_concept(name, 8, seed=5)[0]
        neg = world.render_concept(name, 8, seed=5, negate=True)[0]
        t = world.clip_encode_texts(model, tokenizer, [name])[0]
        wins += (world.clip_encode_images(model, pos) @ t).mean() > (world.clip_encode_images(model, neg) @ t).mean()
    assert wins >= 0.8 * len(names)


def test_missing_weights_give_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="neurodash.world.train cnn"):
        world_cnn.load_cnn(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="neurodash.world.train clip"):
        world_clip.load_clip(tmp_path / "nope.safetensors")
