import multiprocessing as mp

import pytest

from neurodash.annotations import Annotations


def test_update_merges_fields(tmp_path):
    a = Annotations(tmp_path / "ann.json")
    assert a.get(3).status == "unreviewed" and a.get(3).updated == ""
    a.update(3, status="confirmed", note="stripes, ünïcode ok")
    a.update(3, add_flags=["polysemantic"])
    a.update(5, flags=["dead"])
    r = a.get(3)
    assert r.status == "confirmed" and r.note == "stripes, ünïcode ok" and r.flags == ("polysemantic",)
    assert r.updated
    a.update(3, remove_flags=["polysemantic"])
    assert a.get(3).flags == () and a.get(5).flags == ("dead",)
    assert set(a.all()) == {3, 5}
    a.clear(5)
    assert set(a.all()) == {3}
    with pytest.raises(ValueError, match="unknown status"):
        a.update(1, status="maybe")


def test_unreadable_file_is_set_aside_not_overwritten(tmp_path):
    p = tmp_path / "ann.json"
    p.write_text("{not json")
    a = Annotations(p)
    a.update(1, note="x")
    backups = list(tmp_path.glob("ann.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "{not json"
    assert a.get(1).note == "x" and "not valid JSON" in a.notices[0] and str(backups[0]) in a.notices[0]


def _writer(path, worker, n):
    a = Annotations(path)
    for i in range(n):
        a.update(worker * 1000 + i, note=f"w{worker} n{i}")
        a.update(7, add_flags=[f"w{worker}-{i}"])  # everyone edits the same neuron too


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "ann.json"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 12)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = Annotations(path).all()
    for w in range(4):
        for i in range(12):
            assert got[w * 1000 + i].note == f"w{w} n{i}"
    assert set(got[7].flags) == {f"w{w}-{i}" for w in range(4) for i in range(12)}
