"""ui.pickers: what the browser may name is confined to the allowed roots."""

import pytest

from neurodash import roots
from neurodash.ui import pickers


def test_diffusers_model_paths_are_confined(tmp_path, monkeypatch):
    data, outside = tmp_path / "data", tmp_path / "outside"
    (data / "pipe").mkdir(parents=True)
    outside.mkdir()
    monkeypatch.setattr(pickers, "allowed_roots", lambda: [data.resolve()])
    assert pickers.diffusers_model("stabilityai/sd-turbo") == "stabilityai/sd-turbo"  # an id
    assert pickers.diffusers_model("  ") is None
    assert pickers.diffusers_model(str(data / "pipe")) == str((data / "pipe").resolve())
    for bad in ["/etc", str(outside), "~", "../../etc", f"{data}/../outside"]:
        with pytest.raises(roots.RootError):
            pickers.diffusers_model(bad)


def test_model_config_outside_the_roots_is_not_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(pickers, "allowed_roots", lambda: [tmp_path.resolve()])
    (tmp_path / "cfg.json").write_text("{}")
    assert pickers.model_allowed("resnet50") and pickers.model_allowed("open_clip:ViT-B-32")
    assert pickers.model_allowed(f"open_clip:{tmp_path}/cfg.json", say=False)
    assert not pickers.model_allowed("open_clip:/etc/evil.json", say=False)
