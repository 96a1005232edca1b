import numpy as np
import pytest

from neurodash.concepts import (ConceptError, clip_activations, concept_set, ground_truth,
                                parse_concept_lines, read_concept_file)


def test_text_file_trimmed_deduplicated_unicode(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\ufeff  red circle \n\nred   circle\nRed circle\n# a comment\nnaïve café\nnai\u0308ve cafe\u0301\n☃ snowman\n",
                 encoding="utf-8")
    assert read_concept_file(p) == ["red circle", "Red circle", "naïve café", "☃ snowman"]
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(ConceptError, match="no concepts"):
        read_concept_file(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConceptError, match="not UTF-8"):
        read_concept_file(tmp_path / "bin.txt")
    with pytest.raises(ConceptError, match="does not exist"):
        concept_set(str(tmp_path / "missing.txt"))


def test_builtin_sets():
    from neurodash import world
    assert concept_set("world") == list(world.vocabulary())
    names = concept_set("imagenet")
    assert len(names) == 1000 and names[0] == "tench" and names[-1] == "toilet tissue"
    assert parse_concept_lines(["a", " a ", "b"]) == ["a", "b"]


def test_ground_truth_columns_follow_names():
    class P:
        label_names = ["x", "y", "z"]
        labels = np.array([[1, 0, 1], [0, 1, 0]], bool)
    np.testing.assert_array_equal(ground_truth(P, ["z", "x"]), [[True, True], [False, False]])
    with pytest.raises(ConceptError, match="no ground-truth labels"):
        ground_truth(P, ["w"])
    P.labels = None
    with pytest.raises(ConceptError, match="no labels"):
        ground_truth(P, ["x"])


def test_clip_activation_modes():
    cos = np.random.default_rng(0).uniform(-0.3, 0.4, (500, 6))
    soft = clip_activations(cos, "softmax")
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-5)
    assert np.array_equal(soft.argmax(1), cos.argmax(1))
    sig = clip_activations(cos, "sigmoid")
    assert ((sig > 0) & (sig < 1)).all()
    # calibrated: present (≥ 0.5) exactly where cos is 2 sd above the concept's probe mean
    z = (cos - cos.mean(0)) / cos.std(0)
    np.testing.assert_array_equal(sig >= 0.5, z >= 2.0)
    with pytest.raises(ConceptError):
        clip_activations(cos, "cubic")


def test_word_concept_sets_come_from_wordfreq():
    import wordfreq
    words = concept_set("words-20k")
    assert len(words) == 20000 == len(set(words)) and all(w.isalpha() for w in words)
    assert concept_set("words-3k") == words[:3000]
    top = [w for w in wordfreq.top_n_list("en", 100) if w.isalpha()]
    assert words[:len(top)] == top                                # frequency order, as wordfreq gives it
