"""Pretrained weights through each library's own cache, with files written here (never downloaded).

Every test runs with sockets closed: a test that reached for the network would fail, not pass.
"""
import json
import socket
import urllib.error

import numpy as np
import pytest
import torch

from neurodash import hub, models
from neurodash.models import ModelError, load_model

TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(*a, **k):
        raise AssertionError("a test tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("NEURODASH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def _squeezenet_in_torch_home(seed=0):
    """Random squeezenet1_1 weights saved under the file name torchvision's enum points to."""
    import torchvision
    torch.manual_seed(seed)
    net = torchvision.models.squeezenet1_1(weights=None)
    path, url = models.torchvision_default_file("squeezenet1_1:IMAGENET1K_V1")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net.eval(), path, url


def test_weights_enum_resolves_to_torch_home_cache(tmp_path, monkeypatch):
    net, path, url = _squeezenet_in_torch_home()
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    assert path.name.startswith("squeezenet1_1-")
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("a cached file was downloaded again"))
    for spec in ("squeezenet1_1", "squeezenet1_1:IMAGENET1K_V1", "squeezenet1_1:DEFAULT"):
        lm = load_model(spec, device="cpu")
        assert lm.weights_path == path.resolve()
    x = lm.to_input(np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8))
    mean = torch.tensor(models.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(models.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(lm.module(x), net((x - mean) / std))


def test_unknown_weights_tag_lists_the_known_ones():
    with pytest.raises(ModelError, match="IMAGENET1K_V1") as err:
        load_model("resnet50:NOPE", device="cpu")
    assert "NOPE" in str(err.value)


def test_offline_message_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODASH_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("offline, but a download started"))
    with pytest.raises(ModelError) as err:
        load_model("resnet50:IMAGENET1K_V1", device="cpu")
    msg = str(err.value)
    assert len(msg.splitlines()) == 1
    assert "resnet50-0676ba61.pth" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    assert "offline" in msg and "https://download.pytorch.org/" in msg


def test_absent_network_gives_the_same_message(tmp_path, monkeypatch):
    def no_route(url, dst, hash_prefix=None, progress=True):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_route)
    with pytest.raises(ModelError) as err:
        load_model("resnet50", device="cpu")
    msg = str(err.value)
    assert "resnet50-11ad3fa6.pth" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    assert "download failed" in msg and "name resolution" in msg


def test_online_missing_file_downloads_with_progress_and_hash_check(tmp_path, monkeypatch):
    import torchvision
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix, progress))
        torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), dst)
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    lm = load_model("squeezenet1_1", device="cpu")
    (url, prefix, progress), = calls
    assert url.endswith(lm.weights_path.name) and progress is True
    assert prefix and lm.weights_path.name.startswith(f"squeezenet1_1-{prefix}")
    load_model("squeezenet1_1", device="cpu")
    assert len(calls) == 1  # the second load is a cache hit


def test_layers_need_no_weights(monkeypatch):
    monkeypatch.setenv("NEURODASH_OFFLINE", "1")
    lm = models.load_architecture("resnet50:IMAGENET1K_V2")
    layers = {l.name: l.shape for l in models.list_layers(lm)}
    assert layers["layer4"] == (2048, 7, 7) and layers["fc"] == (1000,)
    with pytest.raises(ModelError, match="offline"):
        load_model("resnet50", device="cpu")  # while the real weights are still needed to load


# ---- open_clip pretrained tags through the Hugging Face cache ----------------------------------------

def _hf_snapshot(tmp_path, repo_id: str, files: dict) -> None:
    """huggingface_hub's cache layout: refs/main -> commit, snapshots/<commit>/<file>."""
    repo = tmp_path / "hf" / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, write in files.items():
        write(snap / name)


@pytest.fixture()
def tiny_clip_tag(tmp_path, monkeypatch):
    """A tiny open_clip architecture with a pretrained tag registered the way open_clip registers
    its own (an hf_hub entry), and random weights in the HF cache under open_clip's file name."""
    import open_clip
    from open_clip import pretrained as oc_pretrained
    from safetensors.torch import save_file

    cfg = tmp_path / "tiny-hub-clip.json"
    cfg.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(cfg)
    monkeypatch.setitem(oc_pretrained._PRETRAINED, "tiny-hub-clip", {
        "testtag": oc_pretrained._pcfg(hf_hub="test-org/tiny-hub-clip/"),
        "missingtag": oc_pretrained._pcfg(hf_hub="test-org/not-cached/"),
    })
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-hub-clip", pretrained=None).eval()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    _hf_snapshot(tmp_path, "test-org/tiny-hub-clip",
                 {"open_clip_model.safetensors": lambda p: save_file(sd, str(p))})
    return model


def test_open_clip_tag_loads_from_hf_cache(tiny_clip_tag):
    from neurodash.concepts import ClipScorer, load_clip_source
    lm = load_model("open_clip:tiny-hub-clip/testtag", device="cpu")
    assert lm.weights_path.name == "open_clip_model.safetensors" and "models--test-org--tiny-hub-clip" in str(lm.weights_path)
    model, tok = load_clip_source("open_clip:tiny-hub-clip/testtag")
    for name, t in tiny_clip_tag.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], t)
    img = ClipScorer(model, tok).encode_images(np.zeros((2, 32, 32, 3), np.uint8))
    assert img.shape == (2, 16)
    assert models.pretrained_file("open_clip:tiny-hub-clip/testtag") == lm.weights_path


def test_open_clip_tag_offline_message(tiny_clip_tag, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODASH_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_model("open_clip:tiny-hub-clip/missingtag", device="cpu")
    msg = str(err.value)
    assert "open_clip_pytorch_model.bin" in msg
    assert str(tmp_path / "hf" / "models--test-org--not-cached") in msg and "offline" in msg
    with pytest.raises(ModelError, match="no pretrained tag 'nope'.*testtag"):
        load_model("open_clip:tiny-hub-clip/nope", device="cpu")


def test_hf_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    assert hub.hf_cache_dir() == tmp_path / "hfhome" / "hub"
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.hf_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"


def test_workspace_with_an_open_clip_tag_as_concept_source(tiny_clip_tag, cnn_weights, tmp_path):
    """CLIP-Dissect's setting end to end: concept activations from a pretrained tag in the HF cache;
    the tag's file is part of the workspace fingerprint."""
    from neurodash.precompute import precompute
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    recipe = Recipe(weights=str(cnn_weights), probe_n=40, concept_source="open_clip:tiny-hub-clip/testtag")
    ws = Workspace.open(recipe, home=tmp_path / "h")
    precompute(ws)
    assert ws.concepts.shape == (40, len(ws.concept_names)) and ws.concepts.dtype == np.float32
    np.testing.assert_allclose(ws.concepts.sum(1), 1, atol=2e-2)      # softmax over concepts (fp16)
    fingerprint = ws.fingerprint()
    path = models.pretrained_file("open_clip:tiny-hub-clip/testtag")
    path.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))  # other weights
    assert Workspace.open(recipe, home=tmp_path / "h").fingerprint() != fingerprint
