"""Hypothesize on the shapes world names the concept a hand-built detector neuron responds to."""

import numpy as np
import pytest



RED, BLUE = 0, 1  # the stand-in workspace's neurons (see conftest.py)


def test_hypothesize_with_a_transparent_clip_names_the_colour(stand_in, colour_clip):
    from neurodash.sieve import hypothesize

    for neuron, colour in ((RED, "red"), (BLUE, "blue")):
        hyps = hypothesize(stand_in, neuron, top=20, clip=colour_clip)
        assert hyps, "a selective neuron yields at least one hypothesis"
        assert sum(len(h.image_ids) for h in hyps) == 20
        for h in hyps:
            assert len(h.concepts) == 2 and h.scores[0] >= h.scores[1]
            assert h.crops.shape[1:] == (64, 64, 3)
        # the largest cluster is named by the colour: both its names are the colour or a
        # colour+shape of it (with ~2 kind objects per probe scene, other colours dilute the crop,
        # and the colour+shape names, flatter in this stand-in, can tie or win)
        assert all(name.split()[0] == colour for name in hyps[0].concepts), hyps[0].concepts


def test_hypothesize_with_the_tiny_clip_finds_the_colour(stand_in):
    """The real pipeline: the shipped tiny CLIP embeds the crops and names the clusters."""
    from neurodash.concepts import clip_for_source
    from neurodash.sieve import hypothesize

    from neurodash.world.vocabulary import POSITIONS, SIZES

    clip = clip_for_source("clip")  # the shipped tiny CLIP, as a shapes-world workspace uses it
    for neuron, colour in ((RED, "red"), (BLUE, "blue")):
        hyps = hypothesize(stand_in, neuron, top=20, clip=clip)
        assert sum(len(h.image_ids) for h in hyps) == 20
        seen = [(h.concepts, h.scores, len(h.image_ids)) for h in hyps]
        # the clusters naming the colour among their top 2 hold most top images (measured with the
        # stage-2 CLIP: 20/20 for red, 16/20 for blue, whose other names are the gray background
        # it sits on; stage 1 had 20 and 18) ...
        named = sum(len(h.image_ids) for h in hyps if colour in h.concepts)
        assert named >= 15, (colour, seen)
        # ... and never by size or position (an upsampled crop was called "large" for 8 of 40
        # images here; read in context, "bottom" by the stage-2 CLIP: see LAYOUT_WORDS)
        assert not {w for h in hyps for w in h.concepts} & set(SIZES + POSITIONS), seen


class _LayoutLovingClip:
    """Every image and the layout words embed identically (cosine 1): the best possible names, were
    they allowed."""

    key = "layout-loving"

    def encode_images(self, images):
        return np.tile([1.0, 0.0], (len(images), 1))

    def encode_texts(self, names):
        return np.asarray([[1.0, 0.0] if n.lower() in {"bottom", "large", "left"} else [0.6, 0.8] for n in names])


def test_size_and_position_words_are_never_hypotheses(stand_in):
    from neurodash.sieve import hypothesize

    names = ["bottom", "large", "Left", "red", "red circle"]
    hyps = hypothesize(stand_in, RED, top=20, clip=_LayoutLovingClip(), concept_names=names)
    assert hyps and {w for h in hyps for w in h.concepts} == {"red", "red circle"}
    with pytest.raises(ValueError, match="size and position"):
        hypothesize(stand_in, RED, top=20, clip=_LayoutLovingClip(), concept_names=["bottom", "small"])
