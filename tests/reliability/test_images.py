"""Hostile and broken files in a probe folder: refused before decoding or skipped, each with its
reason in the probe report; the good images still make the probe."""

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from neurodash.imagefiles import MAX_ASPECT, PIXEL_BUDGET, read_image
from neurodash.probes import FolderProbe, ProbeError


def _good(d, n=3):
    d.mkdir(exist_ok=True)
    for i in range(n):
        Image.new("RGB", (48, 40), (40 * i, 90, 200)).save(d / f"good{i}.png")


def _png_claiming(path, w, h):
    """A valid small PNG whose header claims w×h pixels (the pixel data is not there)."""
    Image.new("RGB", (4, 4)).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", w, h)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(raw))


def _reason(probe, name):
    return dict(probe.report.skipped)[name]


@pytest.mark.parametrize("w,h", [(1, 100_000), (100_000, 1), (1, 30_000), (4000, 100)])
def test_extreme_aspect_ratio_is_refused(tmp_path, w, h):
    d = tmp_path / "p"
    _good(d)
    Image.new("L", (w, h)).save(d / "strip.png")
    probe = FolderProbe(d, 32)
    assert probe.files == ["good0.png", "good1.png", "good2.png"]
    assert "extreme aspect ratio" in _reason(probe, "strip.png") and probe.report.summary().count("refused")
    with pytest.raises(ProbeError, match="refused: extreme aspect"):
        read_image(d / "strip.png", 32)


@pytest.mark.parametrize("w,h", [(30_000, 30_000), (100_000, 100_000), (9_000, 9_000)])
def test_pixel_budget_is_checked_from_the_header(tmp_path, w, h):
    assert w * h > PIXEL_BUDGET and max(w, h) / min(w, h) <= MAX_ASPECT
    d = tmp_path / "p"
    _good(d)
    _png_claiming(d / "bomb.png", w, h)
    probe = FolderProbe(d, 32)
    assert "too large" in _reason(probe, "bomb.png") and "bomb.png" not in probe.files


@pytest.mark.parametrize("kind", ["truncated-png", "truncated-jpeg", "empty", "text", "random-bytes",
                                  "zero-size-header"])
def test_unreadable_images_are_skipped_with_a_reason(tmp_path, kind):
    d = tmp_path / "p"
    _good(d)
    bad = d / "bad.png"
    if kind == "truncated-png":
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:300])
    elif kind == "truncated-jpeg":
        bad = d / "bad.jpg"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:400])
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("definitely not a picture")
    elif kind == "random-bytes":
        bad.write_bytes(os.urandom(2048))
    else:
        _png_claiming(bad, 0, 0)
    probe = FolderProbe(d, 32)
    assert bad.name not in probe.files and len(probe.files) == 3
    assert _reason(probe, bad.name)  # a reason, not a silent drop


def test_links_and_fifos_are_reported_not_dropped_silently(tmp_path):
    d = tmp_path / "p"
    _good(d)
    os.symlink(d / "loop", d / "loop")  # a link to itself
    os.symlink(tmp_path / "nowhere.png", d / "broken.png")
    os.mkfifo(d / "pipe.png")
    probe = FolderProbe(d, 32)  # must not block on the FIFO
    skipped = dict(probe.report.skipped)
    assert "looping link" in skipped["loop"] and "broken" in skipped["broken.png"]
    assert "not a regular file" in skipped["pipe.png"]
    assert len(probe.files) == 3 and "skipped 3" in probe.report.summary()


def test_links_out_of_the_folder_are_not_read(tmp_path):
    d = tmp_path / "p"
    _good(d)
    (d / "sub").mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "private.png")  # outside the probe folder
    os.symlink(tmp_path / "private.png", d / "escape.png")
    os.symlink(d / "good0.png", d / "sub" / "alias.png")  # a link that stays inside is an image
    probe = FolderProbe(d, 32)
    assert "outside the probe folder" in dict(probe.report.skipped)["escape.png"]
    assert "escape.png" not in probe.files and "sub/alias.png" in probe.files

    (d / "sub" / "alias.png").unlink()  # re-pointed out after the scan: refused at read time
    os.symlink(tmp_path / "private.png", d / "sub" / "alias.png")
    with pytest.raises(ProbeError, match="outside the probe folder"):
        probe.images([probe.files.index("sub/alias.png")])


def test_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(d / "big.jpg", quality=80)
    out = read_image(d / "big.jpg", 64)
    assert out.shape == (64, 64, 3) and abs(int(out[..., 0].mean()) - 200) < 8


RSS_SCRIPT = r"""
import json, resource, sys
from neurodash.probes import FolderProbe
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
p = FolderProbe(sys.argv[1], 224)
imgs = p.images(range(len(p)))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"extra_kb": after - before, "files": p.files, "skipped": p.report.skipped}))
"""


def test_a_1x100000_png_adds_little_to_peak_memory(tmp_path):
    """The issue's target: a probe folder holding a 1×100,000 PNG adds < 300 MB to peak RSS
    (measured in a fresh process, after the imports, around building the probe and reading it)."""
    d = tmp_path / "p"
    _good(d)
    Image.new("RGB", (1, 100_000), (255, 0, 0)).save(d / "strip.png")
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(d)], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    res = json.loads(out.stdout)
    assert "strip.png" not in res["files"] and res["extra_kb"] < 300 * 1024
