"""Recovery: a corrupt annotations file is set aside (kept, reported) and the rest works; a failed or
cancelled build leaves nothing behind; a neuron with an undefined score has no band either."""

import json
import math

import numpy as np
import pytest

from neurodash.annotations import Annotations
from neurodash.cli import main
from neurodash.precompute import precompute
from neurodash.progress import Cancelled
from neurodash.recipe import Recipe
from neurodash.workspace import Workspace

BAD_ANNOTATIONS = {
    "not-json": "{not json",
    "a-list": "[1, 2, 3]",
    "neurons-a-list": '{"neurons": [1, 2]}',
    "record-a-string": '{"neurons": {"3": "confirmed"}}',
    "flags-a-string": '{"neurons": {"3": {"flags": "dead", "note": "x"}}}',
    "key-not-a-neuron": '{"neurons": {"abc": {}}}',
    "binary": "\x00\xff\xfe garbage",
}


@pytest.mark.parametrize("kind", sorted(BAD_ANNOTATIONS))
def test_corrupt_annotations_are_set_aside_and_reported(tmp_path, kind):
    p = tmp_path / "ann.json"
    p.write_bytes(BAD_ANNOTATIONS[kind].encode("utf-8", "surrogateescape"))
    original = p.read_bytes()
    a = Annotations(p)
    assert a.all() == {}  # reading works
    (backup,) = tmp_path.glob("ann.json.corrupt-*")
    assert backup.read_bytes() == original  # nothing lost
    assert len(a.notices) == 1 and str(backup) in a.notices[0]
    a.update(4, status="confirmed", note="after")
    assert a.get(4).note == "after" and json.loads(p.read_text())["neurons"]["4"]["status"] == "confirmed"


def test_report_and_layer_work_with_a_corrupt_annotations_file(built, capsys):
    ws, home, _ = built
    path = ws.annotations.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\"a list, not an object\"]")
    try:
        args = ["--weights", ws.recipe.weights, "--probe-n", str(ws.recipe.probe_n), "--layer",
                ws.recipe.layer, "--home", str(home)]
        assert main(["report", "--neuron", "1", "--json", "--no-sanity", *args]) == 0
        out = capsys.readouterr()
        assert json.loads(out.out)["annotation"]["status"] == "unreviewed"
        assert "kept as" in out.err  # the CLI says where the old file went
        assert main(["layer", *args]) == 0
        assert list(path.parent.glob(path.name + ".corrupt-*"))
    finally:
        for f in path.parent.glob(path.name + "*"):
            f.unlink()


@pytest.mark.parametrize("field,value", [("concept_set", "DIR"), ("concept_set", "EMPTY"),
                                         ("weights", "NPZ"), ("probe", "EMPTYDIR"),
                                         ("clip_weights", "DIR")])
def test_a_failed_build_leaves_no_workspace_folder(tmp_path, field, value):
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "empty.txt").write_text("# nothing\n")
    np.savez(d / "w.npz", a=np.zeros(2))
    (d / "emptydir").mkdir()
    paths = {"DIR": str(d), "EMPTY": str(d / "empty.txt"), "NPZ": str(d / "w.npz"),
             "EMPTYDIR": str(d / "emptydir")}
    extra = {"concept_source": "clip"} if field in ("clip_weights", "probe") else {}
    recipe = Recipe(probe_n=16, **extra, **{field: paths[value]})
    home = tmp_path / "home"
    ws = Workspace.open(recipe, home=home)
    with pytest.raises(Exception) as err:
        precompute(ws)
    assert str(err.value) and "Traceback" not in str(err.value)
    assert not (home / "workspaces").exists() or not any((home / "workspaces").iterdir())


def test_a_cancelled_build_leaves_no_workspace_folder(tmp_path):
    class CancelLater:
        calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 2

    ws = Workspace.open(Recipe(probe_n=256), home=tmp_path / "home")
    with pytest.raises(Cancelled):
        precompute(ws, cancel=CancelLater(), batch=16)
    assert not any((tmp_path / "home" / "workspaces").iterdir())


def test_all_zero_weights_give_null_score_and_null_band(tmp_path, cnn_weights, capsys):
    import torch
    from safetensors.torch import load_file, save_file
    sd = load_file(str(cnn_weights))
    zero = tmp_path / "zero.safetensors"
    save_file({k: torch.zeros_like(v) for k, v in sd.items()}, str(zero))
    args = ["--weights", str(zero), "--probe-n", "32", "--layer", "block3", "--home", str(tmp_path / "h")]
    assert main(["report", "--neuron", "0", "--json", "--no-sanity", "--metrics", "pearson,iou",
                 *args]) == 0
    rep = json.loads(capsys.readouterr().out)
    rows = [c for cs in rep["concepts"].values() for c in cs]
    assert any(c["score"] is None for c in rows)
    for c in rows:
        if c["score"] is None:
            assert c["band"] is None and c["lo"] is None and c["hi"] is None


def test_zero_concepts_is_a_clear_message(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("\n\n# comments only\n")
    assert main(["precompute", "--concepts", str(f), "--home", str(tmp_path / "h")]) == 2
    assert "has no concepts" in capsys.readouterr().err


def test_concept_scores_of_an_undefined_score_have_no_band(built):
    from neurodash.analysis.scores import concept_scores
    ws = built[0]
    scores = np.full(len(ws.concept_names), np.nan)
    (c,) = concept_scores(ws, 0, "iou", [0], scores, 0.05)
    assert math.isnan(c.score) and math.isnan(c.band) and math.isnan(c.lo) and math.isnan(c.hi)
