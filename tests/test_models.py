"""Real torchvision and open_clip code paths on weights created here (nothing is downloaded)."""
import pickle

import numpy as np
import pytest
import torch

from neurodash import models
from neurodash.models import LayerReader, ModelError, list_layers, load_model

@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a download was attempted")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    import torchvision
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rn") / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def _images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_torchvision_resnet18_from_file(resnet_file):
    import torchvision
    lm = load_model("resnet18", weights=resnet_file, device="cpu")
    assert lm.input_size == 224 and lm.weights_path == resnet_file.resolve()
    layers = {l.name: l for l in list_layers(lm)}
    assert layers["layer4"].shape == (512, 7, 7) and layers["layer4.1.conv2"].kind == "Conv2d"
    assert layers["fc"].shape == (1000,)
    # the wrapper normalises inside, exactly like torchvision's transforms would
    ref = torchvision.models.resnet18(weights=None)
    ref.load_state_dict(torch.load(resnet_file, weights_only=True))
    ref.eval()
    imgs = _images(2, 224)
    x = lm.to_input(imgs)
    mean = torch.tensor(models.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(models.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(lm.module(x), ref((x - mean) / std))
    pooled, maps = LayerReader(lm, "layer4", "mean").read(x)
    assert pooled.shape == (2, 512) and maps.shape == (2, 512, 7, 7)
    torch.testing.assert_close(pooled, maps.mean(dim=(2, 3)))
    pooled_max, _ = LayerReader(lm, "layer4", "max").read(x)
    torch.testing.assert_close(pooled_max, maps.amax(dim=(2, 3)))
    with pytest.raises(ModelError, match="cls"):
        LayerReader(lm, "layer4", "cls").read(x)


def test_user_checkpoint_with_other_head(tmp_path):
    import torchvision
    from safetensors.torch import save_file
    net = torchvision.models.resnet18(weights=None, num_classes=7)
    path = tmp_path / "mine.safetensors"
    save_file(net.state_dict(), str(path))
    lm = load_model("checkpoint", weights=path, arch="resnet18", device="cpu")
    assert {l.name: l.shape for l in list_layers(lm)}["fc"] == (7,)
    # wrapped checkpoints ({"state_dict": ..., "module." prefixes}) load too
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}, wrapped)
    load_model("checkpoint", weights=wrapped, arch="resnet18", device="cpu")
    with pytest.raises(ModelError, match="do not fit"):
        load_model("resnet50", weights=path, device="cpu")


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Evil()}, f)
    with pytest.raises(ModelError, match="weights_only"):
        load_model("resnet18", weights=path, device="cpu")


def test_missing_zoo_weights_say_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("NEURODASH_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_model("resnet50", device="cpu")
    msg = str(err.value)
    assert "resnet50-" in msg and str(tmp_path / "th" / "hub" / "checkpoints") in msg
    assert "offline" in msg
    with pytest.raises(ModelError, match="does not exist"):
        load_model("resnet18", weights=tmp_path / "nope.pth", device="cpu")
    with pytest.raises(ModelError, match="unknown torchvision"):
        load_model("not_a_model", device="cpu")


def test_torch_home_cache_is_used(tmp_path, monkeypatch, resnet_file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    path, url = models.torchvision_default_file("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(resnet_file.read_bytes())
    assert load_model("resnet18", device="cpu").weights_path == path.resolve()


def test_layer_names_are_not_evaluated():
    lm = load_model("resnet18", weights="random", device="cpu")
    for bad in ("__import__('os')", "layer4[0]", "nope"):
        with pytest.raises(ModelError, match="no layer"):
            LayerReader(lm, bad)


def test_open_clip_tower_from_config_file(tiny_clip_files):
    cfg, weights = tiny_clip_files
    lm = load_model(f"open_clip:{cfg}", weights=weights, device="cpu")
    assert lm.input_size == 32
    layers = {l.name: l.shape for l in list_layers(lm)}
    assert layers["transformer.resblocks.1"] == (17, 32)     # 16 patches + CLS, width 32
    x = lm.to_input(_images(3, 48))                          # resized to 32
    assert x.shape == (3, 3, 32, 32)
    cls, maps = LayerReader(lm, "transformer.resblocks.1", "auto").read(x)
    mean, _ = LayerReader(lm, "transformer.resblocks.1", "mean").read(x)
    assert cls.shape == (3, 32) and maps.shape == (3, 32, 4, 4)
    assert not torch.allclose(cls, mean)
    # the patch-token map of token (r, c) is token 1 + 4r + c
    handle_out = {}
    blk = lm.net.get_submodule("transformer.resblocks.1")
    h = blk.register_forward_hook(lambda m, i, o: handle_out.setdefault("o", o))
    with torch.no_grad():
        lm.module(x)
    h.remove()
    tokens = handle_out["o"]
    torch.testing.assert_close(cls, tokens[:, 0])
    torch.testing.assert_close(maps[:, :, 1, 2], tokens[:, 1 + 4 + 2])
    with pytest.raises(ModelError, match="needs a pretrained tag"):
        load_model(f"open_clip:{cfg}", device="cpu")


def test_clip_concepts_with_tiny_open_clip(tiny_clip_files):
    from neurodash.concepts import ClipScorer, clip_activations, load_clip_source
    cfg, weights = tiny_clip_files
    model, tok = load_clip_source(f"open_clip:{cfg}", weights)
    s = ClipScorer(model, tok)
    img = s.encode_images(_images(5, 40))
    txt = s.encode_texts(["red circle", "blue square", "ünïcode ☃"])
    assert img.shape == (5, 16) and txt.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, rtol=1e-5)
    p = clip_activations(img @ txt.T, "softmax")
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    z = 10 * (img @ txt.T)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)


def test_available_models_lists_zoo(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    rows = {r["name"]: r for r in models.available_models()}
    assert {"shapes-cnn", "tiny-clip", "resnet18", "vit_b_16", "convnext_tiny", "checkpoint"} <= set(rows)
    assert rows["resnet50"]["weights"].startswith("not cached: downloads resnet50-")


def test_vit_token_layers_pool():
    lm = load_model("vit_b_16", weights="random", device="cpu")
    layers = {l.name: l.shape for l in list_layers(lm)}
    assert layers["encoder.layers.encoder_layer_11"] == (197, 768)
    x = lm.to_input(_images(1, 224))
    cls, maps = LayerReader(lm, "encoder.layers.encoder_layer_0", "cls").read(x)
    assert cls.shape == (1, 768) and maps.shape == (1, 768, 14, 14)


def test_tiny_clip_tower_with_weights_made_here(tmp_path):
    from safetensors.torch import save_file

    from neurodash.world import clip as world_clip
    model, _ = world_clip.create_untrained_clip()
    path = tmp_path / "tiny_clip.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    lm = load_model("tiny-clip", weights=path, device="cpu")
    layers = list_layers(lm)
    assert layers and lm.weights_path == path.resolve()
    # whatever the tower is (ViT or ModifiedResNet), its last spatial/token layer reads and pools
    info = [l for l in layers if len(l.shape) >= 2][-1]
    pooled, maps = LayerReader(lm, info.name).read(lm.to_input(_images(2, lm.input_size)))
    width = info.shape[0] if len(info.shape) == 3 else info.shape[-1]
    assert pooled.shape == (2, width) and maps.ndim == 4 and maps.shape[:2] == (2, width)
