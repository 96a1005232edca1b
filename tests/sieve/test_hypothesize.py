"""Hypothesize on the shapes world names the concept a hand-built detector neuron responds to."""



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
        assert hyps[0].concepts[0] == colour  # the largest cluster is named by the colour


def test_hypothesize_with_the_tiny_clip_finds_the_colour(stand_in):
    """The real pipeline: the shipped tiny CLIP embeds the crops and names the clusters."""
    from neurodash.concepts import clip_for_source
    from neurodash.sieve import hypothesize

    clip = clip_for_source("clip")  # the shipped tiny CLIP, as a shapes-world workspace uses it
    for neuron, colour in ((RED, "red"), (BLUE, "blue")):
        hyps = hypothesize(stand_in, neuron, top=20, clip=clip)
        assert sum(len(h.image_ids) for h in hyps) == 20
        for h in hyps:  # every cluster (a role of the neuron) is named by the colour among its top 2
            assert colour in h.concepts, (colour, [(h.concepts, h.scores, len(h.image_ids)) for h in hyps])
