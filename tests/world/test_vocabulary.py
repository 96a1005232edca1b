"""The world's concept sets: object kinds (the default vocabulary) and coarse attributes."""
import pytest

from neurodash import world
from neurodash.world.vocabulary import ALL_SHAPES, COLOUR_NAMES, SHAPES, TEXTURES, concepts


def test_default_vocabulary_is_the_object_kinds():
    names = world.vocabulary()
    assert len(names) >= 150 and len(names) == len(SHAPES) * len(COLOUR_NAMES) * len(TEXTURES)
    assert len(set(names)) == len(names)
    assert names == world.vocabulary("objects")
    for required in ("plain red circle", "striped blue star", "checkered white ring"):
        assert required in names
    # no coarse attribute (colour alone, size, position, background) in the default vocabulary
    for coarse in ("red", "circle", "large", "left", "gray background", "bar"):
        assert coarse not in names
    for c in concepts():
        assert set(c.conditions) == {"shape", "colour", "texture"} and c.conditions["shape"] < len(SHAPES)


def test_groups_cover_each_set_once():
    for concept_set in world.CONCEPT_SETS:
        groups = world.concept_groups(concept_set)
        members = [n for v in groups.values() for n in v]
        assert sorted(members) == sorted(world.vocabulary(concept_set))
    assert set(world.concept_groups()) == {f"{s} kinds" for s in SHAPES}
    assert {"shape", "colour", "texture", "size", "position", "background colour"} <= set(world.concept_groups("attributes"))


def test_attributes_hold_the_coarse_concepts():
    names = world.vocabulary("attributes")
    for required in ("red", "star", "striped", "blue background", "left", "large", "red circle", *ALL_SHAPES):
        assert required in names


def test_set_of_and_concept_index():
    assert world.set_of("striped red circle") == "objects"
    assert world.set_of("red") == "attributes"
    assert world.vocabulary()[world.concept_index("dotted green cross")] == "dotted green cross"
    assert world.vocabulary("attributes")[world.concept_index("red", "attributes")] == "red"
    with pytest.raises(ValueError, match="plain red circle"):
        world.set_of("purple elephant")
    with pytest.raises(ValueError, match="attributes"):
        world.concept_index("red")  # an attribute is not an object kind
    with pytest.raises(ValueError, match="concept set"):
        world.vocabulary("nouns")
