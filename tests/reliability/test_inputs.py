"""Inputs replaced in place with the same size and the same mtime (what `cp -p`, `rsync -a`, tar and
`touch -d` produce) are detected by their content: the cache is recomputed, never reused."""

import shutil

import numpy as np
import pytest
from PIL import Image

from neurodash.precompute import precompute
from neurodash.probes import FolderProbe, ProbeError
from neurodash.recipe import Recipe
from neurodash.workspace import Workspace
from tests.helpers import same_size_replacement


def _other_weights(path, seed):
    """Other weights of the same architecture, as bytes of the same size as the file at ``path``."""
    import torch
    from safetensors.torch import load_file, save_file

    sd = load_file(str(path))
    g = torch.Generator().manual_seed(seed)
    # rescale every float tensor a little (signs and positive variances kept): a working other model
    other = {k: (v * (1 + 0.5 * torch.rand(v.shape, generator=g))).to(v.dtype)
             if v.is_floating_point() else v for k, v in sd.items()}
    tmp = path.with_suffix(".other")
    save_file(other, str(tmp))
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def test_weights_replaced_with_same_size_and_mtime(cnn_weights, tmp_path):
    weights = tmp_path / "user.safetensors"
    shutil.copy(cnn_weights, weights)
    recipe = Recipe(weights=str(weights), probe_n=32, layer="block3")
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    before = np.array(ws.acts)
    same_size_replacement(weights, _other_weights(weights, 1))
    again = Workspace.open(recipe, home=tmp_path / "h")
    assert not again.is_ready() and "weights, probe or concepts changed" in again.stale_reason
    precompute(again)
    assert not np.allclose(np.asarray(again.acts), before)
    fresh = Workspace.open(recipe, home=tmp_path / "fresh")
    precompute(fresh)
    np.testing.assert_array_equal(np.asarray(again.acts), np.asarray(fresh.acts))


def test_weights_copied_with_cp_p_over_the_file(cnn_weights, tmp_path):
    """A different file copied over with its metadata (shutil.copy2 = cp -p), then touched back."""
    import os
    weights = tmp_path / "user.safetensors"
    shutil.copy(cnn_weights, weights)
    recipe = Recipe(weights=str(weights), probe_n=32, layer="block3")
    precompute(Workspace.open(recipe, home=tmp_path / "h"))
    other = tmp_path / "other.safetensors"
    other.write_bytes(_other_weights(weights, 2))
    st = weights.stat()
    shutil.copy2(other, weights)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -d to the old date
    assert weights.stat().st_size == st.st_size and weights.stat().st_mtime_ns == st.st_mtime_ns
    assert not Workspace.open(recipe, home=tmp_path / "h").is_ready()


def _folder(tmp_path, n=6):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(d / f"{i}.bmp")
    return d


def test_folder_image_replaced_with_same_size_and_mtime(tmp_path):
    d = _folder(tmp_path)
    probe = FolderProbe(d, 32)
    h = probe.listing_hash()
    shown = probe.images([2])
    raw = bytearray((d / "2.bmp").read_bytes())
    raw[-30:] = bytes(255 - b for b in raw[-30:])  # same size, other pixels
    same_size_replacement(d / "2.bmp", bytes(raw))
    with pytest.raises(ProbeError, match="changed since the workspace was computed"):
        probe.images([2])  # never shown beside the old activations
    assert FolderProbe(d, 32).listing_hash() != h
    assert not np.array_equal(FolderProbe(d, 32).images([2]), shown)


def test_folder_workspace_recomputes_after_image_swap(tmp_path, cnn_weights):
    d = _folder(tmp_path)
    recipe = Recipe(model="shapes-cnn", weights=str(cnn_weights), layer="block3", probe=str(d),
                    concept_source="clip")
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    raw = bytearray((d / "0.bmp").read_bytes())
    raw[-12:] = bytes(12)
    same_size_replacement(d / "0.bmp", bytes(raw))
    again = Workspace.open(recipe, home=tmp_path / "h")
    assert not again.is_ready() and "changed" in again.stale_reason


def test_concept_file_replaced_with_same_size_and_mtime(tmp_path, cnn_weights):
    from neurodash import world
    names = list(world.vocabulary())
    f = tmp_path / "concepts.txt"
    f.write_text("\n".join(names[:6]) + "\n")
    recipe = Recipe(weights=str(cnn_weights), layer="block3", probe_n=32, concept_set=str(f),
                    concept_source="clip")
    precompute(Workspace.open(recipe, home=tmp_path / "h"))
    text = f.read_text()
    swapped = text.replace(names[0], names[0][::-1], 1)
    same_size_replacement(f, swapped.encode())
    again = Workspace.open(recipe, home=tmp_path / "h")
    assert not again.is_ready()
    precompute(again)
    assert again.concept_names[0] == names[0][::-1]


def test_labels_csv_replaced_with_same_size_and_mtime(tmp_path):
    d = _folder(tmp_path, 4)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,cat,dog\n0.bmp,1,0\n1.bmp,0,1\n2.bmp,1,0\n3.bmp,0,1\n")
    probe = FolderProbe(d, 32, labels_csv=csv)
    h = probe.listing_hash()
    same_size_replacement(csv, b"file,cat,dog\n0.bmp,0,1\n1.bmp,1,0\n2.bmp,1,0\n3.bmp,0,1\n")
    again = FolderProbe(d, 32, labels_csv=csv)
    assert again.listing_hash() != h and again.labels[0].tolist() == [False, True]


def test_hash_memo_is_reused_only_while_the_stamp_holds(tmp_path, monkeypatch):
    """The persistent memo skips hashing an unchanged, settled file, and re-hashes after cp -p."""
    import os

    from neurodash import cache
    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 1000)
    old = os.stat(f).st_mtime_ns - 10**10
    os.utime(f, ns=(old, old))
    monkeypatch.setattr(cache, "RACY_NS", 0)  # pretend the file settled long ago
    calls = []
    real = cache.file_sha256
    monkeypatch.setattr(cache, "file_sha256", lambda p, *a: calls.append(p) or real(p, *a))
    first = cache.memo_file_sha256(f, tmp_path / "home")
    assert cache.memo_file_sha256(f, tmp_path / "home") == first and len(calls) == 1
    tmp = tmp_path / "x.bin"
    tmp.write_bytes(b"b" * 1000)
    shutil.copy2(tmp, f)
    os.utime(f, ns=(old, old))
    assert cache.memo_file_sha256(f, tmp_path / "home") != first and len(calls) == 2


def test_hash_memo_does_not_trust_a_racy_stamp(tmp_path):
    """A file hashed in the same clock tick as its last write is hashed again next time."""
    from neurodash.cache import HashMemo
    f = tmp_path / "x"
    f.write_bytes(b"1234")
    memo = HashMemo()
    a = memo.digest(f)
    f.write_bytes(b"5678")  # possibly the same ctime tick: size, inode, maybe mtime/ctime equal
    assert memo.digest(f) != a


def test_broden_mask_replaced_with_same_size_and_mtime(tmp_path):
    from neurodash.broden import BrodenProbe
    from tests.broden_fixture import write_broden
    root, _ = write_broden(tmp_path / "broden")
    probe = BrodenProbe(root, 32)
    h = probe.listing_hash()
    mask = next(p for p in sorted((root / "images").rglob("*.png")) if "color" in p.name or "object" in p.name)
    raw = bytearray(mask.read_bytes())
    raw[-20] ^= 0x01  # same size
    same_size_replacement(mask, bytes(raw))
    assert BrodenProbe(root, 32).listing_hash() != h
