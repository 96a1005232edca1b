import io

import numpy as np
import pytest
from PIL import Image

from neurodash.probes import FolderProbe, ProbeError, WorldProbe, make_probe, to_rgb8


@pytest.fixture()
def messy_folder(tmp_path):
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(root / "a_red.png")
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(root / "b_cmyk.jpg", quality=95)  # red in CMYK
    grey16 = np.full((20, 20), 65535, np.uint16)
    grey16[:, :10] = 0
    Image.fromarray(grey16).save(root / "sub" / "c_16bit.png")
    rgba = Image.new("RGBA", (16, 16), (0, 0, 255, 0))  # fully transparent -> white
    rgba.save(root / "sub" / "d_rgba.png")
    Image.new("L", (16, 16), 77).save(root / "sub" / "deeper" / "e_grey.gif")
    # EXIF orientation 6 (rotate 90° clockwise for display): a 40x20 (w x h) image shows as 20x40.
    img = Image.new("RGB", (40, 20), (0, 200, 0))
    img.paste((0, 0, 200), (0, 0, 10, 20))  # blue strip on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(root / "f_exif.jpg", exif=exif, quality=95)
    # broken things
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good, format="JPEG")
    (root / "g_corrupt.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (root / "h_empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"ignored")
    return root


def test_folder_skips_bad_files_and_reports(messy_folder):
    p = FolderProbe(messy_folder, size=16)
    assert p.files == ["a_red.png", "b_cmyk.jpg", "f_exif.jpg", "sub/c_16bit.png", "sub/d_rgba.png",
                       "sub/deeper/e_grey.gif"]
    skipped = dict(p.report.skipped)
    assert set(skipped) == {"g_corrupt.jpg", "h_empty.png", "notes.txt"}
    assert skipped["notes.txt"] == "not an image" and skipped["h_empty.png"].startswith("empty")
    assert skipped["g_corrupt.jpg"].startswith("corrupt")
    assert "skipped 3" in p.report.summary() and p.report.n_files == 9
    imgs = p.images(range(len(p)))
    assert imgs.shape == (6, 16, 16, 3) and imgs.dtype == np.uint8
    red, cmyk, exif, g16, rgba, grey = imgs
    assert red[8, 8, 0] > 150 and red[8, 8, 1] < 60
    assert cmyk[8, 8, 0] > 200 and cmyk[8, 8, 1] < 60           # CMYK -> RGB red
    assert g16[8, 0].tolist() == [0, 0, 0] and g16[8, 15].tolist() == [255, 255, 255]  # 16 bit scaled
    assert rgba[8, 8].tolist() == [255, 255, 255]               # transparent composited on white
    assert grey[8, 8].tolist() == [77, 77, 77]
    assert exif[8, 8, 1] > 150  # the green centre of the rotated image
    # EXIF orientation 6: the 40x20 file displays as 20x40 with its blue left strip on top
    with Image.open(messy_folder / "f_exif.jpg") as im:
        shown = to_rgb8(im)
    assert shown.size == (20, 40)
    r, g, b = shown.getpixel((10, 3))
    assert b > 150 and g < 80


def test_chunks_match_images_and_cached_listing(messy_folder):
    p = FolderProbe(messy_folder, size=8)
    got = np.concatenate([im for _, im in p.chunks(4)])
    np.testing.assert_array_equal(got, p.images(range(len(p))))
    again = FolderProbe(messy_folder, size=8, files=p.files)  # no re-validation
    assert again.files == p.files and again.listing_hash() == p.listing_hash()
    (messy_folder / "new.png").write_bytes(b"x")
    assert FolderProbe(messy_folder, size=8, files=p.files).listing_hash() != p.listing_hash()


def test_labels_csv(messy_folder, tmp_path):
    csv = tmp_path / "labels.csv"
    rows = ["file,red,round"] + [f"{f},{int('red' in f)},0.7" for f in
                                 ["a_red.png", "b_cmyk.jpg", "f_exif.jpg", "sub/c_16bit.png", "d_rgba.png"]]
    csv.write_text("\n".join(rows) + "\n")
    with pytest.raises(ProbeError, match="no row for 1 image"):
        FolderProbe(messy_folder, size=8, labels_csv=csv)
    csv.write_text("\n".join(rows + ["sub/deeper/e_grey.gif,0,no"]) + "\n")
    p = FolderProbe(messy_folder, size=8, labels_csv=csv)
    assert p.label_names == ["red", "round"]
    assert p.labels[:, 0].tolist() == [True, False, False, False, False, False]
    assert p.labels[:, 1].tolist() == [True] * 5 + [False]


def test_bad_folders(tmp_path):
    with pytest.raises(ProbeError, match="does not exist"):
        FolderProbe(tmp_path / "nope")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "x.txt").write_text("hi")
    with pytest.raises(ProbeError, match="no readable images"):
        FolderProbe(tmp_path / "e")


def test_to_rgb8_modes():
    assert to_rgb8(Image.new("P", (4, 4))).mode == "RGB"
    assert to_rgb8(Image.new("LA", (4, 4), (10, 255))).getpixel((0, 0)) == (10, 10, 10)
    f = Image.fromarray(np.full((4, 4), 0.5, np.float32))
    assert to_rgb8(f).getpixel((0, 0)) == (128, 128, 128)


def test_world_probe_regenerates_any_id():
    from neurodash import world
    p = make_probe("world", n=40, seed=3, size=32)
    assert isinstance(p, WorldProbe) and len(p) == 40
    whole, labels, masks = world.sample(40, 3, size=32)
    np.testing.assert_array_equal(p.images([0, 17, 39]), whole[[0, 17, 39]])
    np.testing.assert_array_equal(np.concatenate([c[1] for c in p.chunks(16)]), whole)
    np.testing.assert_array_equal(p.labels, labels)
    np.testing.assert_array_equal(p.masks([5, 6]), masks[[5, 6]])
    chunk = next(p.chunks(8, masks=True))
    np.testing.assert_array_equal(chunk[3], masks[:8])
    unpainted = list(p.chunks(16, masks=True, images=False))  # pixel IoU's pass: masks only
    assert [c[1] for c in unpainted] == [None] * 3
    np.testing.assert_array_equal(np.concatenate([c[3] for c in unpainted]), masks)
    assert p.listing_hash() != make_probe("world", n=40, seed=4, size=32).listing_hash()
    with pytest.raises(IndexError):
        p.images([40])


def test_a_world_probe_listing_changes_with_the_world_version(monkeypatch):
    """A cache built on an older world (same n and seed, other images) must not be trusted."""
    from neurodash import world
    from neurodash.probes import WorldProbe

    before = WorldProbe(10, seed=3).listing_hash()
    monkeypatch.setattr(world, "WORLD_VERSION", world.WORLD_VERSION + "-next")
    assert WorldProbe(10, seed=3).listing_hash() != before
