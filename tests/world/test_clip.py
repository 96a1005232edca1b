"""The shipped tiny CLIP is an open_clip model loaded from assets/ on CPU, and reaches its recorded
concept AUROC on fresh images."""
import json
import math

import numpy as np
import pytest
import torch

from neurodash import world
from neurodash.world import clip as world_clip
from neurodash.world.quality import clip_concept_auroc

TEST_SEED = 424_242


@pytest.fixture(scope="module")
def clip():
    return world.load_clip()


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
    txt = world.clip_encode_texts(model, tokenizer, ["striped red circle", "a photo of a blue background."])
    assert img.dtype == np.float32 and txt.dtype == np.float32
    assert img.shape[1] == txt.shape[1]
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-4)


def test_clip_reaches_recorded_concept_auroc_on_fresh_images(clip):
    model, _, tokenizer = clip
    record = json.loads(world_clip.CLIP_RECORD.read_text())["quality"]
    auroc = clip_concept_auroc(model, tokenizer, n=1500, seed=TEST_SEED)
    values = [v for v in auroc.values() if not math.isnan(v)]
    assert len(values) >= 0.95 * len(world.vocabulary())  # a kind may miss 1500 images by chance
    assert np.mean(values) >= record["mean_auroc"] - 0.02
    assert record["mean_auroc"] >= 0.85  # chance is 0.5
    attributes = clip_concept_auroc(model, tokenizer, n=600, seed=TEST_SEED, concept_set="attributes")
    for name in ("red", "blue", "white", "gray background", "grid background", "noisy background"):
        assert attributes[name] >= 0.95, name


def test_clip_text_matches_the_right_concept_renders(clip):
    """Each kind's own renders score higher against its name than its controls do."""
    model, _, tokenizer = clip
    names = world.vocabulary()[::4]
    wins = 0
    for name in names:
        pos = world.render_concept(name, 8, seed=5)[0]
        neg = world.render_concept(name, 8, seed=5, negate=True)[0]
        t = world.clip_encode_texts(model, tokenizer, [name])[0]
        wins += (world.clip_encode_images(model, pos) @ t).mean() > (world.clip_encode_images(model, neg) @ t).mean()
    assert wins >= 0.8 * len(names)


def test_missing_weights_give_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="neurodash.world.train clip"):
        world_clip.load_clip(tmp_path / "nope.safetensors")
