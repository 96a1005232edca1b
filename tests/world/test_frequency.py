"""The rarity contract: every object kind is in at most 1% of probe images, and the shipped record
of every concept's frequency is what the world produces."""
import json

import numpy as np

from neurodash import world
from neurodash.world.frequency import RARE, concept_frequency
from neurodash.world.store import FREQUENCY_RECORD


def test_every_object_kind_is_rare_on_a_5000_image_probe():
    freq = concept_frequency(5000, seed=12)
    assert list(freq) == world.vocabulary()
    values = np.array(list(freq.values()))
    assert values.max() <= RARE, max(freq, key=freq.get)
    assert values.min() > 0  # and every kind occurs
    # the attributes are the common ones (why they are kept out of the default vocabulary)
    attributes = concept_frequency(1000, seed=12, concept_set="attributes")
    assert np.median(list(attributes.values())) > 0.1


def test_frequency_counts_the_labels_in_chunks():
    freq = concept_frequency(300, seed=5, chunk=128)
    _, labels, _ = world.sample(300, seed=5, masks=False)
    np.testing.assert_allclose(list(freq.values()), labels.mean(axis=0))


def test_the_shipped_frequency_record_matches_the_world():
    record = json.loads(FREQUENCY_RECORD.read_text())
    assert record["objects"]["concepts"] == len(world.vocabulary())
    assert record["objects"]["above_rare"] == 0 and record["objects"]["max"] <= RARE
    names = list(record["objects"]["frequency"])[:20]
    again = world.concept_frequency(record["n"], record["seed"])
    for name in names:
        assert again[name] == record["objects"]["frequency"][name]
