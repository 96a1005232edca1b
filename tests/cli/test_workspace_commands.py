"""`python -m neurodash ...` end to end on a small shapes-world probe (real subprocesses)."""
import json
import os
import subprocess
import sys

import pandas as pd

from neurodash import world
from neurodash.cli import main


def run(*args, home, check=True):
    env = {**os.environ, "NEURODASH_HOME": str(home)}
    p = subprocess.run([sys.executable, "-m", "neurodash", *args], capture_output=True, text=True,
                       env=env, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stderr}")
    return p


def test_cli_end_to_end(tmp_path, cnn_weights):
    home = tmp_path / "h"
    ws_opts = ["--weights", str(cnn_weights), "--probe-n", "120"]
    p = run("precompute", *ws_opts, home=home)
    assert "ready:" in p.stdout and "120 images" in p.stdout
    assert "precompute" in p.stderr and "100%" in p.stderr                # the tqdm bar
    assert list((home / "workspaces").glob("*/meta.json"))

    p = run("report", "--neuron", "3", "--json", "--be", "--K", "30", *ws_opts, home=home)
    rep = json.loads(p.stdout)
    assert rep["neuron"] == 3 and len(rep["top_ids"]) == 20 and len(rep["top_images"]) == 20
    assert set(rep["concepts"]) == {"iou", "recall", "precision", "auroc", "pearson", "pixel_iou"}
    top = rep["concepts"]["iou"][0]
    assert {"concept", "score", "band", "lo", "hi", "band_kind"} <= set(top) and top["band_kind"] == "table1"
    assert rep["bootstrap"]["K"] == 30 and sum(rep["bootstrap"]["histogram"]) == 30
    assert set(rep["sanity"]) == {"iou", "recall", "precision", "auroc", "pearson"}
    assert isinstance(rep["selectivity"], float) and rep["ground_truth"]["concept"]
    assert "precompute" not in p.stderr                                    # cache hit: no recompute

    p = run("report", "--neuron", "3", "--csv", "--no-sanity", "--metrics", "iou,recall", *ws_opts, home=home)
    rows = pd.read_csv(__import__("io").StringIO(p.stdout))
    assert list(rows["metric"].unique()) == ["iou", "recall"] and (rows["neuron"] == 3).all()
    p = run("report", "--neuron", "3", "--no-sanity", "--metrics", "iou", *ws_opts, home=home)
    sel = p.stdout.split("selectivity ")[1].split(" ")[0]
    assert sel == "inf" or len(sel.replace(".", "").replace("e+", "").lstrip("0")) <= 4, sel  # rounded for people

    out = tmp_path / "layer.csv"
    p = run("layer", "--metrics", "iou", "--csv", str(out), *ws_opts, home=home)
    table = pd.read_csv(out)
    assert len(table) == len(world.vocabulary()) and {"iou_concept", "iou_score", "iou_band"} <= set(table.columns)
    assert f"wrote {len(world.vocabulary())} rows" in p.stderr and str(out) in p.stderr and p.stdout == ""  # confirmed on stderr
    p = run("layer", "--metrics", "iou", "--json", *ws_opts, home=home)
    records = json.loads(p.stdout)
    assert {"auto_flags", "severity", "reasons", "flag_metric"} <= set(records[0])
    flagged = [r for r in records if r["auto_flags"]]
    assert all(r["severity"] > 0 and r["reasons"] for r in flagged)
    assert all(r["severity"] == 0 and not r["reasons"] for r in records if not r["auto_flags"])
    assert not any("sanity" in r["auto_flags"] for r in records)  # workspace-wide, never per unit

    p = run("report", "--neuron", "999", "--json", *ws_opts, home=home, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "outside this layer" in p.stderr


def test_cli_errors_are_one_line(tmp_path, cnn_weights, capsys, monkeypatch):
    monkeypatch.setenv("NEURODASH_HOME", str(tmp_path))
    assert main(["precompute", "--weights", str(cnn_weights), "--layer", "no.such", "--probe-n", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("neurodash precompute: error:") and "no layer 'no.such'" in err[-1]
    assert main(["precompute", "--weights", str(cnn_weights), "--probe", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["layers", "--model", "resnet18", "--weights", str(tmp_path / "x.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_listings(cnn_weights, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "shapes-cnn" in out and "resnet50" in out and "open_clip:<arch>" in out
    assert main(["layers", "--weights", str(cnn_weights)]) == 0
    out = capsys.readouterr().out
    assert "block4" in out and f"({len(world.vocabulary())}, 8, 8)" in out


def test_layers_without_weights_and_offline_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    for var in ("NEURODASH_OFFLINE", "HF_HUB_OFFLINE"):  # --offline sets them: restored after
        monkeypatch.setenv(var, "")
    assert main(["layers", "--model", "resnet50:IMAGENET1K_V1", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "layer4" in out and "(2048, 7, 7)" in out
    assert main(["precompute", "--model", "resnet50", "--layer", "layer4", "--offline",
                 "--home", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "resnet50-11ad3fa6.pth" in err[-1] and str(tmp_path / "th" / "hub" / "checkpoints") in err[-1]


def test_precompute_in_shards_from_the_cli(tmp_path, cnn_weights, capsys):
    """--engine shards writes the same cache as one process (the Ray engine shares this path and is
    checked against a local Ray in tests/test_ray_engine.py)."""
    import numpy as np
    opts = ["--weights", str(cnn_weights), "--probe-n", "130", "--layer", "block2"]
    assert main(["precompute", *opts, "--home", str(tmp_path / "one")]) == 0
    assert main(["precompute", *opts, "--engine", "shards", "--shards", "3",
                 "--home", str(tmp_path / "sh")]) == 0
    out = capsys.readouterr().out
    assert "ready:" in out and "130 images" in out
    assert "shards: 3; 3 computed now, 0 taken from the store" in out
    a, = (tmp_path / "one" / "workspaces").glob("*/acts.npy")
    b, = (tmp_path / "sh" / "workspaces").glob("*/acts.npy")
    assert np.load(a).tobytes() == np.load(b).tobytes()
    assert main(["precompute", *opts, "--engine", "ray", "--workers", "0",
                 "--home", str(tmp_path / "x")]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_a_killed_sharded_precompute_resumes(tmp_path, cnn_weights, capsys):
    """SIGKILL the precompute once a shard is in the store; the rerun takes the finished shards from
    the store and computes only the rest (the Ray engine writes the same store)."""
    import signal
    import time

    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(384):  # a class-folder probe: labels, no masks, cheap to read
        path = tmp_path / "probe" / ("cats" if i % 2 else "dogs") / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    (tmp_path / "concepts.txt").write_text("cats\ndogs\n")
    home = tmp_path / "h"

    def finished_shards() -> int:  # done.json written and recorded in the shard's manifest
        from neurodash.cache import CacheDir
        return sum(CacheDir(d).has("done.json") for d in home.glob("shards/*/*"))
    opts = ["--weights", str(cnn_weights), "--probe", str(tmp_path / "probe"), "--layer", "block1",
            "--concepts", str(tmp_path / "concepts.txt"), "--engine", "shards", "--shards", "6"]
    env = {**os.environ, "NEURODASH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "neurodash", "precompute", *opts],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not finished_shards() and proc.poll() is None:
            assert time.monotonic() < deadline, "no shard finished in time"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = finished_shards()
    assert 1 <= finished < 6, f"{finished} shards were done when the run was killed"
    assert main(["precompute", *opts, "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert f"shards: 6; {6 - finished} computed now, {finished} taken from the store" in out, out
