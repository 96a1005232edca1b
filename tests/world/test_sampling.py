"""The world as a probe (labels vs masks, determinism) and its concept renders (prototypical and hard)."""
import numpy as np
import pytest

from neurodash import world
from neurodash.world.render import BACKGROUND, render
from neurodash.world.scenes import KIND_SLOTS, MAX_OBJECTS
from neurodash.world.vocabulary import concepts

ATTRS = "attributes"


@pytest.fixture(scope="module")
def probe():
    return world.sample(300, seed=3)


def test_shapes_and_dtypes(probe):
    images, labels, masks = probe
    C = len(world.vocabulary())
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (300, C) and labels.dtype == bool
    assert masks.shape == (300, C, 64, 64) and masks.dtype == bool


def test_label_present_iff_mask_non_empty(probe):
    _, labels, masks = probe
    np.testing.assert_array_equal(masks.any(axis=(2, 3)), labels)
    assert labels.any()


def test_both_sets_label_the_same_images():
    images, labels, masks = world.sample(200, seed=3, concept_set=ATTRS)
    np.testing.assert_array_equal(images, world.sample(200, seed=3, masks=False)[0])
    np.testing.assert_array_equal(masks.any(axis=(2, 3)), labels)
    rate = labels.mean(axis=0)
    assert (rate > 0).all(), [n for n, r in zip(world.vocabulary(ATTRS), rate) if r == 0]
    assert (rate < 0.8).all()


def test_kinds_agree_with_their_attributes():
    """An object kind is present iff one object has its shape, colour and texture: compare with
    the attribute masks (independent columns of the other concept set)."""
    _, kinds, kind_masks = world.sample(150, seed=4)
    _, _, attr_masks = world.sample(150, seed=4, concept_set=ATTRS)
    attrs = world.vocabulary(ATTRS)
    for j, name in enumerate(world.vocabulary()):
        texture, colour, shape = name.split()
        inside = (attr_masks[:, attrs.index(texture)] & attr_masks[:, attrs.index(colour)]
                  & attr_masks[:, attrs.index(shape)])
        # pixel-wise the kind's mask is inside each of its attributes' masks ...
        assert not (kind_masks[:, j] & ~inside).any(), name
        # ... and where all three hold on one pixel, it is one object of that kind
        np.testing.assert_array_equal(kind_masks[:, j], inside, err_msg=name)


def test_masks_follow_the_rendered_pixels():
    """Independent check of masks against the scene: a single plain object's mask is exactly the
    pixels that differ from the (plain) background, and colour masks are pixels of that colour."""
    names = world.vocabulary(ATTRS)
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
        for j, concept in enumerate(concepts(ATTRS)):
            if concept.group == "shape":
                obj |= msk[j]
        np.testing.assert_array_equal(bg_mask, ~obj)  # each pixel is background or some shape


def test_background_concepts_are_exclusive_and_objects_have_one_shape():
    _, labels, masks = world.sample(200, seed=3, concept_set=ATTRS)
    groups = world.concept_groups(ATTRS)
    names = world.vocabulary(ATTRS)
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


def test_images_false_gives_the_same_labels_and_masks_unpainted():
    a = world.sample(40, seed=5, start=13)
    b = world.sample(40, seed=5, start=13, images=False)
    assert b[0] is None
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


@pytest.mark.parametrize("size", [32, 96])
def test_other_sizes_keep_labels_consistent(size):
    images, labels, masks = world.sample(30, seed=0, size=size)
    assert images.shape == (30, size, size, 3)
    np.testing.assert_array_equal(masks.any(axis=(2, 3)), labels)


@pytest.mark.parametrize("concept_set", world.CONCEPT_SETS)
def test_concept_renders_contain_their_concept_and_controls_do_not(concept_set):
    names = world.vocabulary(concept_set)
    for name in names[::8 if concept_set == "objects" else 3]:  # every shape, colour and texture
        j = names.index(name)
        for hard in (False, True):
            images, labels, masks = world.render_concept(name, 4, seed=0, hard=hard)
            assert images.shape == (4, 64, 64, 3)
            assert labels[:, j].all() and masks[:, j].any(axis=(1, 2)).all(), name
        images, labels, masks = world.render_concept(name, 4, seed=0, negate=True)
        assert not labels[:, j].any() and not masks[:, j].any(), name


def test_prototypical_renders_show_two_or_three_medium_instances():
    """Like a detector's top images: 2-3 visible medium-sized copies of the kind (counted on the
    scene's owner map), against one for the hard render."""
    names = world.vocabulary()
    for name in ("checkered white ring", "plain red star", "dotted green cross", "striped blue triangle"):
        j = names.index(name)
        _, labels, masks, count = world.render_concept(name, 30, seed=4, instances=True)
        assert labels[:, j].all()
        assert set(count.tolist()) <= {2, 3} and {2, 3} <= set(count.tolist()), name
        area = masks[:, j].sum(axis=(1, 2))
        _, _, hard_masks, hard_count = world.render_concept(name, 30, seed=4, hard=True, instances=True)
        assert (hard_count >= 1).all() and np.mean(hard_count == 1) > 0.9
        hard_area = hard_masks[:, j].sum(axis=(1, 2))
        assert area.min() >= 100 and area.mean() > 1.5 * hard_area.mean(), name


def test_hard_renders_are_forced_not_filtered():
    """A rare kind is shown on (almost) every candidate, not found by luck: the rendered kind is
    the top object, so its mask is a sizeable blob."""
    names = world.vocabulary()
    j = names.index("checkered white ring")
    _, labels, masks = world.render_concept("checkered white ring", 30, seed=4, hard=True)
    assert labels[:, j].all()
    assert masks[:, j].sum(axis=(1, 2)).min() >= 10


def test_concept_render_deterministic_and_fresh():
    a = world.render_concept("plain red circle", 5, seed=1)[0]
    b = world.render_concept("plain red circle", 5, seed=1)[0]
    c = world.render_concept("plain red circle", 5, seed=2)[0]
    d = world.render_concept("plain red circle", 5, seed=1, hard=True)[0]
    np.testing.assert_array_equal(a, b)
    assert (a != c).any() and (a != d).any()


def test_unknown_concept_names_valid_choices():
    with pytest.raises(ValueError, match="plain red circle"):
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
    assert ((owner == 0).sum(axis=(1, 2)) > 0)[scenes.active[:, 0]].all()
    assert scenes.active.sum(axis=1).max() <= MAX_OBJECTS
    # distractors sit in their own slots and never take a kind shape
    from neurodash.world.vocabulary import SHAPES
    assert (scenes.shape[:, :KIND_SLOTS] < len(SHAPES)).all() and (scenes.shape[:, KIND_SLOTS:] >= len(SHAPES)).all()


def test_mask_geometry_matches_the_scene():
    """Independent of the labelling code: a lone circle's mask has area pi r^2 and is centred on
    the scene's centre; a lone object's position flag matches where its mask is."""
    scenes = world.scene_batch(4000, seed=11)
    names = world.vocabulary(ATTRS)
    lone = np.flatnonzero(scenes.active.sum(axis=1) == 1)[:120]  # scenes with a single object
    slot = scenes.active[lone].argmax(axis=1)
    size = 64
    circles = 0
    for i, k in zip(lone, slot):
        _, labels, masks = world.sample(1, seed=11, start=int(i), concept_set=ATTRS)
        assert labels[0, names.index("left")] == (scenes.cx[i, k] < 0.35)
        assert labels[0, names.index("bottom")] == (scenes.cy[i, k] > 0.65)
        if scenes.shape[i, k] != 0:
            continue
        circles += 1
        m = masks[0, names.index("circle")]
        r = scenes.radius[i, k] * size
        assert abs(m.sum() - np.pi * r * r) <= 2 * np.pi * r + 4  # within a perimeter's worth
        ys, xs = np.nonzero(m)
        assert abs((xs.mean() + 0.5) / size - scenes.cx[i, k]) < 0.03
        assert abs((ys.mean() + 0.5) / size - scenes.cy[i, k]) < 0.03
    assert circles >= 10


def _kind_slot_counts(scenes):
    from neurodash.world.vocabulary import COLOUR_NAMES, SHAPES, TEXTURES

    counts = np.zeros(len(world.vocabulary()), dtype=int)
    names = world.vocabulary()
    for i, k in zip(*np.nonzero(scenes.active[:, :KIND_SLOTS])):
        name = f"{TEXTURES[scenes.texture[i, k]]} {COLOUR_NAMES[scenes.colour[i, k]]} {SHAPES[scenes.shape[i, k]]}"
        counts[names.index(name)] += 1
    return counts


def test_the_probe_spreads_the_kinds_evenly():
    """Balanced probe: 2 kind slots per image, blocks of 208 places (192 kinds + 16 empty), so 2080
    images hold every kind exactly 20 times, and any window within one block's worth at each end."""
    from neurodash.world.scenes import PROBE_BLOCK

    n = 10 * PROBE_BLOCK
    counts = _kind_slot_counts(world.scene_batch(n, seed=4))
    assert (counts == 2 * n // PROBE_BLOCK).all()
    window = _kind_slot_counts(world.scene_batch(777, seed=4, start=321))
    assert window.max() - window.min() <= 2 and window.min() >= 2 * 777 // PROBE_BLOCK - 1


def test_the_training_mix_shows_siblings_as_hard_negatives():
    scenes = world.scene_batch(3000, seed=5, mix="train")
    both = scenes.active[:, 0] & scenes.active[:, 1]
    same = ((scenes.shape[:, 0] == scenes.shape[:, 1]).astype(int) + (scenes.colour[:, 0] == scenes.colour[:, 1])
            + (scenes.texture[:, 0] == scenes.texture[:, 1]))
    sibling_share = float((same[both] == 2).mean())
    assert 0.4 <= sibling_share <= 0.65  # the mix asks for 0.5 (plus chance siblings), not all
    probe = world.scene_batch(3000, seed=5)
    probe_same = ((probe.shape[:, 0] == probe.shape[:, 1]).astype(int) + (probe.colour[:, 0] == probe.colour[:, 1])
                  + (probe.texture[:, 0] == probe.texture[:, 1]))
    pair = probe.active[:, 0] & probe.active[:, 1]
    assert float((probe_same[pair] == 2).mean()) < 0.1  # the probe keeps siblings at chance
