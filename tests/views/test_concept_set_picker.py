"""The sidebar offers the concept sets users know by name (from the Recipe field's metadata)."""
from neurodash.ui import params
from tests.helpers import app_test


def test_sidebar_lists_named_concept_sets(ready_home):
    at = app_test()
    at.run()
    assert not at.exception, at.exception
    picker = at.selectbox(key=params.state_key("concept_set"))
    assert {"world", "imagenet", "words-20k", "words-3k"} <= set(picker.options)
    assert picker.value == "world"
