"""The browser reaches only data under the allowed roots, and user text renders as text.

Hostile URL values (paths outside the roots, `/`, `/etc/passwd`) are refused with a text message
and never read; markdown links / image references saved as triage notes or flags, or put in URL
values, never become links or images (every markdown body the app sends is rendered here through
CommonMark and checked for <a>/<img>)."""

import pytest
from markdown_it import MarkdownIt

from neurodash import concepts, probes
from tests.helpers import app_test

EVIL_LINK = "[CLICK TO FIX](http://evil.example/steal)"
EVIL_IMAGE = "![pixel](http://evil.example/track.png)"


@pytest.fixture()
def reads(monkeypatch):
    """Every concept file and probe folder the app tries to read, recorded."""
    seen = []
    real_read, real_folder = concepts.read_concept_file, probes.FolderProbe.__init__

    def read_concept_file(path):
        seen.append(str(path))
        return real_read(path)

    def folder_init(self, root, *a, **kw):
        seen.append(str(root))
        return real_folder(self, root, *a, **kw)

    monkeypatch.setattr(concepts, "read_concept_file", read_concept_file)
    monkeypatch.setattr(probes.FolderProbe, "__init__", folder_init)
    return seen


def _markdown_bodies(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "latex"):
        out += [str(e.value) for e in at.get(kind)]
    return out


def _rendered(at) -> str:
    md = MarkdownIt("commonmark")
    return "\n".join(md.render(b) for b in _markdown_bodies(at))


def _all_text(at) -> str:
    parts = _markdown_bodies(at) + [str(e.value) for e in at.get("text")] + \
        [str(e.value) for e in at.get("code")]
    return "\n".join(parts)


def _run(**query):
    at = app_test()
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("query", [
    {"concept_set": "/etc/passwd", "concept_source": "clip"},
    {"probe": "/"},
    {"probe": "/etc"},
    {"probe": "/tmp/../etc"},
    {"concept_set": "../../../../etc/passwd"},
    {"labels_csv": "/etc/passwd", "probe": "/"},
    {"weights": "/etc/passwd"},
    {"clip_weights": "/etc/shadow", "concept_source": "clip"},
])
def test_paths_outside_the_roots_are_refused_and_never_read(ready_home, reads, query):
    at = _run(**query)
    errors = " ".join(str(e.value) for e in at.error)
    assert "refused" in errors and "not under the data roots" in errors
    assert "root:x:0:0" not in _all_text(at)
    assert not [p for p in reads if p.startswith(("/etc", "/tmp/..")) or p == "/"]
    assert "<a " not in _rendered(at)  # the refused value is quoted as text
    for field in query:
        if field in ("concept_set", "probe", "labels_csv", "weights", "clip_weights"):
            assert at.session_state["nd_" + field] in ("world", "", None, "random")


def test_hostile_model_config_path_is_refused(ready_home, reads, monkeypatch):
    from neurodash import models
    opened = []
    real = models.resolve_open_clip_arch
    monkeypatch.setattr(models, "resolve_open_clip_arch", lambda arch: opened.append(arch) or real(arch))
    at = _run(model="open_clip:/etc/evil.json", layer="x")
    assert "refused" in " ".join(str(e.value) for e in at.error)
    assert not opened and at.session_state["nd_model"] == "shapes-cnn"


def test_a_folder_inside_the_roots_is_offered_and_accepted(ready_home, reads, tmp_path, monkeypatch):
    from PIL import Image
    data = tmp_path / "data"
    (data / "cats").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 16), (80 * i, 0, 0)).save(data / "cats" / f"{i}.png")
    (tmp_path / "outside").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "outside" / "x.png")
    monkeypatch.setenv("NEURODASH_DATA", str(data))
    at = _run(probe=str(data / "cats"), concept_source="clip")
    assert at.session_state["nd_probe"] == str((data / "cats").resolve())
    at = _run(probe=str(tmp_path / "outside"))
    assert "refused" in " ".join(str(e.value) for e in at.error)
    assert str(tmp_path / "outside") not in reads


@pytest.mark.parametrize("text", [EVIL_LINK, EVIL_IMAGE, "<img src=x onerror=alert(1)>",
                                  ":red[**ALERT**] $x$"])
def test_triage_note_and_flag_render_literally(ready_home, text):
    from dataclasses import replace

    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    from tests.views.conftest import PROBE_SIZE
    ws = Workspace.open(replace(Recipe.default(), probe_n=PROBE_SIZE), home=str(ready_home))
    ws.annotations.update(0, note=text, flags=[text], status="interesting")
    try:
        at = app_test()
        at.run()
        at.switch_page("views/triage.py")
        at.run()
        assert not at.exception, at.exception
        rendered = _rendered(at)
        assert "<a " not in rendered and "<img" not in rendered and "<strong>ALERT" not in rendered
        shown = _all_text(at) + " ".join(str(e.value) for e in at.get("text_area"))
        assert "evil.example" in shown or "onerror" in shown or "ALERT" in shown  # shown, as text
    finally:
        ws.annotations.clear(0)


def test_markdown_in_a_url_value_renders_literally(ready_home):
    at = _run(model="shapes-cnn", layer=EVIL_LINK, neuron=EVIL_IMAGE)
    rendered = _rendered(at)
    assert "<a " not in rendered and "<img" not in rendered
    import html
    assert "evil.example/steal" in html.unescape(rendered)  # quoted in the message, as text


def test_a_corrupt_annotations_file_is_reported_and_kept(ready_home):
    from dataclasses import replace

    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    from tests.views.conftest import PROBE_SIZE
    ws = Workspace.open(replace(Recipe.default(), probe_n=PROBE_SIZE), home=str(ready_home))
    path = ws.annotations.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('["[CLICK](http://evil.example)"]')
    try:
        at = app_test()
        seen = []
        for step in ("run", "triage", "run"):  # a notice raised by a page is shown on the next run
            if step == "triage":
                at.switch_page("views/triage.py")
            at.run()
            assert not at.exception, at.exception
            seen += [str(w.value) for w in at.warning]
        warnings = " ".join(seen)
        assert "corrupt" in warnings and "kept as" in warnings
        (backup,) = path.parent.glob(path.name + ".corrupt-*")
        assert "evil.example" in backup.read_text()
    finally:
        for f in path.parent.glob(path.name + "*"):
            f.unlink()
