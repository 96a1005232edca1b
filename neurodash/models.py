"""Load vision models by name, list their layers, and read one layer's (pooled) activations.

Names: "shapes-cnn" (the shipped shapes-world CNN, default), "tiny-clip" (image tower of the shipped
tiny CLIP), any torchvision classification model ("resnet18", "vit_b_16", ...), "open_clip:<arch>"
(image tower of an open_clip model; <arch> is a registered open_clip name or a path to a model-config
JSON; weights from a local checkpoint), "checkpoint" (a user's weights file + a torchvision arch name).

Nothing here downloads: torchvision weights come from an explicit file or from TORCH_HOME's hub cache,
and a missing file is one message that says where to put it. Checkpoints are read with safetensors
or ``torch.load(weights_only=True)``; layers are picked with ``get_submodule`` (never eval()).
Every wrapper takes float images in [0, 1]; the model's input normalisation sits inside it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = ("auto", "mean", "max", "cls")


class ModelError(RuntimeError):
    """A model, its weights or a layer cannot be found or loaded; the message says what to do."""


@dataclass
class LayerInfo:
    name: str
    kind: str
    shape: tuple[int, ...]  # output shape without the batch dimension


@dataclass
class LoadedModel:
    module: nn.Module  # takes float (B,3,s,s) in [0,1]; normalises inside
    name: str
    input_size: int
    to_input: Callable[[np.ndarray], torch.Tensor]
    net: nn.Module = None  # the network whose named_modules() are the layer names
    weights_path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


class Normalized(nn.Module):
    """Applies (x - mean) / std, then the wrapped network."""

    def __init__(self, net: nn.Module, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def best_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_to_input(size: int, device: torch.device) -> Callable[[np.ndarray], torch.Tensor]:
    """uint8 (n,H,W,3) -> float (n,3,size,size) in [0,1] on ``device`` (resized if needed)."""

    def to_input(images: np.ndarray) -> torch.Tensor:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected uint8 images (n,H,W,3), got shape {images.shape}")
        x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-2:] != (size, size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                          align_corners=False, antialias=True)
        return x

    return to_input


# ---- weights files ------------------------------------------------------------------------------

def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch file read with weights_only=True (no unpickling)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            sd = load_file(str(path), device="cpu")
        except Exception as err:  # safetensors raises its own error types
            raise ModelError(f"{path} is not a readable safetensors file: {err}") from err
    else:
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # UnpicklingError, RuntimeError, EOFError...
            raise ModelError(f"{path} cannot be loaded safely with torch.load(weights_only=True) "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); save a "
                             "plain state dict or a .safetensors file") from err
    # Unwrap the usual training-script containers.
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelError(f"{path} does not hold a state dict of tensors")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _load_into(module: nn.Module, sd: dict, source: Path) -> None:
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()
        raise ModelError(f"weights in {source} do not fit this architecture: "
                         f"{' '.join(first[:3])[:400]}") from err


# ---- torchvision ----------------------------------------------------------------------------------

def torchvision_names() -> list[str]:
    import torchvision
    return sorted(torchvision.models.list_models(module=torchvision.models))


def torchvision_default_file(name: str) -> tuple[Path, str]:
    """Where TORCH_HOME's hub cache keeps the default weights of ``name``, and their URL."""
    import torchvision
    weights = torchvision.models.get_model_weights(name).DEFAULT
    filename = weights.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / filename, weights.url


def _num_classes(sd: dict) -> int | None:
    """Classifier width from the last 2-D weight of a state dict (user checkpoints may differ from 1000)."""
    for key in reversed(list(sd)):
        if key.endswith("weight") and sd[key].ndim == 2:
            return int(sd[key].shape[0])
    return None


def _torchvision_model(name: str, weights: str | None, *, user_checkpoint: bool) -> tuple[nn.Module, Path | None, int]:
    import torchvision
    if name not in torchvision_names():
        raise ModelError(f"unknown torchvision architecture {name!r}; see `python -m neurodash models`")
    builder = torchvision.models.get_model_builder(name)
    default_weights = torchvision.models.get_model_weights(name).DEFAULT
    size = int(default_weights.transforms().crop_size[0])
    if weights == "random":
        return builder(weights=None), None, size
    if weights is None:
        path, url = torchvision_default_file(name)
        if not path.is_file():
            raise ModelError(f"no local weights for {name}: put {path.name} (from {url}) in "
                             f"{path.parent} (TORCH_HOME), or pass --weights FILE; "
                             "neurodash never downloads")
    else:
        path = Path(weights).expanduser()
    sd = load_state_dict_file(path)
    kwargs = {}
    if user_checkpoint:
        classes = _num_classes(sd)
        if classes is not None:
            kwargs["num_classes"] = classes
    try:
        model = builder(weights=None, **kwargs)
    except (TypeError, ValueError) as err:
        raise ModelError(f"cannot build {name} with {kwargs}: {err}") from err
    _load_into(model, sd, path)
    return model, path.resolve(), size


# ---- open_clip ----------------------------------------------------------------------------------

def resolve_open_clip_arch(arch: str) -> str:
    """A registered open_clip model name; a path to a config JSON is registered under its stem."""
    import open_clip
    p = Path(arch).expanduser()
    if p.suffix == ".json":
        if not p.is_file():
            raise ModelError(f"open_clip model config {p} does not exist")
        open_clip.add_model_config(p)
        return p.stem
    if arch not in open_clip.list_models():
        raise ModelError(f"unknown open_clip architecture {arch!r} (pass a registered name or "
                         "a model-config .json path)")
    return arch


def load_open_clip(arch: str, weights: str | os.PathLike | None):
    """(model, preprocess, tokenizer) of an open_clip model with weights from a local checkpoint."""
    import open_clip
    name = resolve_open_clip_arch(arch)
    if weights is None:
        raise ModelError(f"open_clip:{arch} needs a local checkpoint (--weights FILE); "
                         "neurodash never downloads")
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    sd = load_state_dict_file(weights)
    if not any(k.startswith("visual.") for k in sd):
        _load_into(model.visual, sd, Path(weights))  # a checkpoint of the image tower alone
    else:
        _load_into(model, sd, Path(weights))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(name)


def _clip_tower(model) -> tuple[nn.Module, int]:
    visual = model.visual
    mean = tuple(getattr(visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073))
    std = tuple(getattr(visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711))
    size = visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    return Normalized(visual, mean, std), size


# ---- entry point ----------------------------------------------------------------------------------

def load_model(name: str = "shapes-cnn", *, weights: str | os.PathLike | None = None,
               arch: str | None = None, device: torch.device | str | None = None) -> LoadedModel:
    """Load a model by name (see module doc) in eval mode on ``device`` (default: CUDA if present)."""
    device = torch.device(device) if device is not None else best_device()
    weights_path: Path | None = None
    if name == "shapes-cnn":
        from neurodash import world
        if weights is not None:  # the shapes architecture with other weights (e.g. retrained)
            from neurodash.world import cnn as world_cnn
            module = world_cnn.ShapesCNN(len(world.vocabulary()))
            _load_into(module, load_state_dict_file(weights), Path(weights))
            module.eval()
            weights_path = Path(weights).resolve()
        else:
            try:
                module = world.load_cnn()
            except (FileNotFoundError, ValueError) as err:
                raise ModelError(str(err)) from err
        net, size = module, int(getattr(world, "IMAGE_SIZE", 64))
    elif name == "tiny-clip":
        from neurodash.world import clip as world_clip
        try:
            model, _, _ = world_clip.load_clip(weights)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            raise ModelError(str(err).splitlines()[0]) from err
        module, size = _clip_tower(model)
        net = module.net
        weights_path = None if weights is None else Path(weights).resolve()
    elif name.startswith("open_clip:"):
        model, _, _ = load_open_clip(name.split(":", 1)[1], weights)
        module, size = _clip_tower(model)
        net, weights_path = module.net, Path(weights).resolve()
    elif name == "checkpoint":
        if not arch or not weights:
            raise ModelError("model 'checkpoint' needs --weights FILE and --arch <torchvision name>")
        net, weights_path, size = _torchvision_model(arch, str(weights), user_checkpoint=True)
        module = Normalized(net)
    else:
        net, weights_path, size = _torchvision_model(name, None if weights is None else str(weights),
                                                     user_checkpoint=False)
        module = Normalized(net)
    module = module.to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return LoadedModel(module=module, name=name, input_size=size, to_input=make_to_input(size, device),
                       net=net, weights_path=weights_path, device=device)


def available_models() -> list[dict]:
    """What `python -m neurodash models` lists: name, source, and whether weights are here."""
    rows = [
        {"name": "shapes-cnn", "source": "shipped (assets/)", "weights": "shipped"},
        {"name": "tiny-clip", "source": "shipped (assets/), image tower", "weights": "shipped"},
    ]
    for n in torchvision_names():
        try:
            path, _ = torchvision_default_file(n)
            have = "found" if path.is_file() else f"missing: put {path.name} in {path.parent} or --weights"
        except (ValueError, KeyError, AttributeError):
            have = "--weights FILE"
        rows.append({"name": n, "source": "torchvision", "weights": have})
    rows.append({"name": "open_clip:<arch>", "source": "open_clip image tower",
                 "weights": "--weights FILE (arch: registered name or config .json)"})
    rows.append({"name": "checkpoint", "source": "your weights + --arch <torchvision name>",
                 "weights": "--weights FILE (.safetensors or state dict)"})
    return rows


# ---- layers ---------------------------------------------------------------------------------------

def get_layer(loaded: LoadedModel, layer: str) -> nn.Module:
    try:
        return loaded.net.get_submodule(layer)
    except AttributeError as err:
        raise ModelError(f"{loaded.name} has no layer {layer!r}; see `python -m neurodash layers "
                         f"--model {loaded.name}`") from err


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def list_layers(loaded: LoadedModel) -> list[LayerInfo]:
    """Every named module that produces a tensor, with its output shape from one dummy forward."""
    shapes: dict[str, tuple] = {}
    handles = []
    for name, mod in loaded.net.named_modules():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            t = _first_tensor(out)
            if t is not None and name not in shapes:
                shapes[name] = tuple(t.shape[1:])
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            x = torch.zeros(1, 3, loaded.input_size, loaded.input_size, device=loaded.device)
            loaded.module(x)
    finally:
        for h in handles:
            h.remove()
    kinds = dict(loaded.net.named_modules())
    return [LayerInfo(n, type(kinds[n]).__name__, shapes[n]) for n in kinds if n in shapes]


class _Stop(Exception):
    pass


class LayerReader:
    """Runs the model up to one layer (stops the forward there) and pools its output.

    ``read(x)`` -> (pooled (B,N), maps (B,N,h,w)) as torch tensors on the model's device.
    4-D conv outputs pool by mean/max over space; 3-D token outputs (ViT) by CLS/mean/max over tokens,
    with the patch tokens as the spatial map; 2-D outputs are their own pool with 1x1 maps.
    """

    def __init__(self, loaded: LoadedModel, layer: str, pooling: str = "auto"):
        if pooling not in POOLINGS:
            raise ModelError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.loaded, self.layer, self.pooling = loaded, layer, pooling
        self.module = get_layer(loaded, layer)
        self._out = None

    def _hook(self, _m, _i, out):
        self._out = _first_tensor(out)
        raise _Stop  # no need to run the rest of the network

    def read(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        handle = self.module.register_forward_hook(self._hook)
        try:
            with torch.inference_mode():
                try:
                    self.loaded.module(x)
                except _Stop:
                    pass
        finally:
            handle.remove()
        out, self._out = self._out, None
        if out is None:
            raise ModelError(f"layer {self.layer!r} did not produce a tensor in the forward pass")
        return pool(out.float(), self.pooling, batch=x.shape[0])


def pool(out: torch.Tensor, pooling: str, *, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    if out.ndim == 4:
        if pooling == "cls":
            raise ModelError("pooling 'cls' is for token (ViT) layers; use mean or max here")
        pooled = out.amax(dim=(2, 3)) if pooling == "max" else out.mean(dim=(2, 3))
        return pooled, out
    if out.ndim == 3:
        if out.shape[0] != batch and out.shape[1] == batch:  # (T,B,D) sequence-first transformers
            out = out.permute(1, 0, 2)
        if pooling in ("auto", "cls"):
            pooled = out[:, 0]
        elif pooling == "max":
            pooled = out.amax(dim=1)
        else:
            pooled = out.mean(dim=1)
        tokens = out.shape[1]
        g = math.isqrt(tokens - 1)
        if g * g == tokens - 1 and g > 0:
            grid = out[:, 1:]
        else:
            g = math.isqrt(tokens)
            grid = out if g * g == tokens else None
        if grid is None:
            maps = pooled[:, :, None, None]
        else:
            maps = grid.transpose(1, 2).reshape(out.shape[0], out.shape[2], g, g)
        return pooled, maps
    if out.ndim == 2:
        return out, out[:, :, None, None]
    raise ModelError(f"cannot pool a layer output of shape {tuple(out.shape)}")
