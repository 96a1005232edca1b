"""The shapes world: vocabulary, labels vs masks, determinism, concept renders."""
import numpy as np
import pytest

from neurodash import world
from neurodash.world.render import BACKGROUND, render
from neurodash.world.scenes import MAX_OBJECTS
from neurodash.world.vocabulary import concepts


@pytest.fixture(scope="module")
def probe():
    return world.sample(300, seed=3)


def test_vocabulary_size_groups_and_unique_names():
    names = world.vocabulary()
    assert 40 <= len(names) <= 80
    assert len(set(names)) == len(names)
    groups = world.concept_groups()
    assert sum(len(v) for v in groups.values()) == len(names)
    for required in ("red", "star", "striped", "blue background", "left", "red circle", "striped square"):
        assert required in names
    assert {"shape", "colour", "texture", "position", "background colour", "colour+shape",
            "texture+shape"} <= set(groups)


def test_shapes_and_dtypes(probe):
    images, labels, masks = probe
    C = len(world.vocabulary())
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (300, C) and labels.dtype == bool
    assert masks.shape == (300, C, 64, 64) and masks.dtype == bool


def test_label_present_iff_mask_non_empty(probe):
    _, labels, masks = probe
    np.testing.assert_array_equal(masks.any(axis=(2, 3)), labels)


def test_every_concept_occurs_and_none_is_everywhere(probe):
    _, labels, _ = probe
    rate = labels.mean(axis=0)
    assert (rate > 0).all(), [n for n, r in zip(world.vocabulary(), rate) if r == 0]
    assert (rate < 0.8).all()


def test_masks_follow_the_rendered_pixels():
    """Independent check of masks against the scene: a single plain object's mask is exactly the
    pixels that differ from the (plain) background, and colour masks are pixels of that colour."""
    names = world.vocabulary()
    images, labels, masks = world.render_concept("plain", 40, seed=1)
    from neurodash.world.vocabulary import BG_COLOURS, COLOURS
    for img, lab, msk in zip(images, labels, masks):
        bg_names = [c for c in BG_COLOURS if lab[names.index(f"{c} background")]]
        assert len(bg_names) == 1
        colours = [c for c in COLOURS if lab[names.index(c)]]
        for c in colours:
            m = msk[names.index(c)]
            # plain-textured object pixels with that colour are inside its mask
            exact = (img == np.array(COLOURS[c], dtype=np.uint8)).all(axis=-1)
            assert (exact & ~m).sum() == 0 or lab[names.index("noisy background")]
        bg_mask = msk[names.index(f"{bg_names[0]} background")]
        obj = np.zeros_like(bg_mask)
        for j, concept in enumerate(concepts()):
            if concept.group == "shape":
                obj |= msk[j]
        np.testing.assert_array_equal(bg_mask, ~obj)  # each pixel is background or some shape


def test_background_concepts_are_exclusive_and_objects_have_one_shape(probe):
    _, labels, masks = probe
    groups = world.concept_groups()
    names = world.vocabulary()
    bg_cols = [names.index(n) for n in groups["background colour"]]
    assert (labels[:, bg_cols].sum(axis=1) == 1).all()
    shape_cols = [names.index(n) for n in groups["shape"]]
    overlap = masks[:, shape_cols].sum(axis=1)
    assert overlap.max() <= 1  # a pixel belongs to at most one object


def test_deterministic_per_seed_and_chunkable():
    a = world.sample(40, seed=7)
    b = world.sample(40, seed=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    chunk = world.sample(15, seed=7, start=20)
    for x, y in zip(a, chunk):
        np.testing.assert_array_equal(x[20:35], y)
    other = world.sample(40, seed=8)[0]
    assert (other != a[0]).any(axis=(1, 2, 3)).mean() > 0.9


def test_masks_false_gives_same_images_and_labels():
    a = world.sample(20, seed=2)
    b = world.sample(20, seed=2, masks=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert b[2] is None


@pytest.mark.parametrize("size", [32, 96])
def test_other_sizes_keep_labels_consistent(size):
    images, labels, masks = world.sample(30, seed=0, size=size)
    assert images.shape == (30, size, size, 3)
    np.testing.assert_array_equal(masks.any(axis=(2, 3)), labels)


def test_concept_renders_contain_their_concept_and_controls_do_not():
    names = world.vocabulary()
    for name in names:
        j = names.index(name)
        images, labels, masks = world.render_concept(name, 6, seed=0)
        assert images.shape == (6, 64, 64, 3)
        assert labels[:, j].all() and masks[:, j].any(axis=(1, 2)).all(), name
        images, labels, masks = world.render_concept(name, 6, seed=0, negate=True)
        assert not labels[:, j].any() and not masks[:, j].any(), name


def test_concept_renders_are_forced_not_filtered():
    """A rare compound must be shown on (almost) every candidate, not found by luck: the rendered
    concept is the top object, so its mask is a sizeable blob."""
    names = world.vocabulary()
    j = names.index("checkered ring")
    _, labels, masks = world.render_concept("checkered ring", 30, seed=4)
    assert labels[:, j].all()
    assert masks[:, j].sum(axis=(1, 2)).min() >= 10


def test_concept_render_deterministic_and_fresh():
    a = world.render_concept("red circle", 5, seed=1)[0]
    b = world.render_concept("red circle", 5, seed=1)[0]
    c = world.render_concept("red circle", 5, seed=2)[0]
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_unknown_concept_names_valid_choices():
    with pytest.raises(ValueError, match="red circle"):
        world.render_concept("purple elephant", 3)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError):
        world.sample(-1)
    with pytest.raises(ValueError, match="size"):
        world.sample(2, size=4)


def test_owner_map_covers_every_pixel_once():
    scenes = world.scene_batch(50, seed=5)
    images, owner = render(scenes, 64)
    assert owner.min() >= 0 and owner.max() <= BACKGROUND
    # the top object (slot 0) is never hidden: it is drawn last
    assert ((owner == 0).sum(axis=(1, 2)) > 0).all()
    assert scenes.active.sum(axis=1).max() <= MAX_OBJECTS


def test_mask_geometry_matches_the_scene():
    """Independent of the labelling code: a lone circle's mask has area pi r^2 and is centred on
    the scene's centre; a lone object's position flag matches where its mask is."""
    scenes = world.scene_batch(400, seed=11)
    _, labels, masks = world.sample(400, seed=11)
    names = world.vocabulary()
    lone = np.flatnonzero(scenes.active.sum(axis=1) == 1)
    circles = lone[scenes.shape[lone, 0] == 0]
    assert len(circles) >= 10
    size = 64
    for i in circles:
        m = masks[i, names.index("circle")]
        r = scenes.radius[i, 0] * size
        assert abs(m.sum() - np.pi * r * r) <= 2 * np.pi * r + 4  # within a perimeter's worth
        ys, xs = np.nonzero(m)
        assert abs((xs.mean() + 0.5) / size - scenes.cx[i, 0]) < 0.03
        assert abs((ys.mean() + 0.5) / size - scenes.cy[i, 0]) < 0.03
    for i in lone:
        assert labels[i, names.index("left")] == (scenes.cx[i, 0] < 0.35)
        assert labels[i, names.index("bottom")] == (scenes.cy[i, 0] > 0.65)
