"""Load vision models by name, list their layers, and read one layer's (pooled) activations.

Names: "shapes-cnn" (the shipped shapes-world CNN, default), "tiny-clip" (image tower of the shipped
tiny CLIP), any torchvision classification model with its weights enum ("resnet50" = its DEFAULT
weights, "resnet50:IMAGENET1K_V1" a named one), "open_clip:<arch>[/<pretrained tag>]" (image tower of
an open_clip model; <arch> is a registered open_clip name or a path to a model-config JSON; weights
from the tag, e.g. "open_clip:ViT-B-32/laion2b_s34b_b79k", or a local checkpoint), "checkpoint" (a
user's weights file + a torchvision arch name).

Pretrained files come from each library's own cache (TORCH_HOME, the Hugging Face cache), downloaded
with progress only when missing and online (neurodash.hub); offline, a missing file is one message
naming the file and the folder. Checkpoints are read with safetensors or
``torch.load(weights_only=True)``; layers are picked with ``get_submodule`` (never eval()).
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

from neurodash.paths import regular_file

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
    # What "auto" pooling means for a layer the network itself pools (the shapes CNN's head layer
    # reads each unit's peak when it was trained that way); other layers keep the convention.
    auto_pooling: dict = field(default_factory=dict)


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
    path = regular_file(path, "weights file", ModelError)
    if path.suffix.lower() == ".npz":
        raise ModelError(f"weights file {path} is a numpy .npz archive, which neurodash does not read; "
                         "save the state dict as .safetensors")
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
            raise ModelError(f"weights file {path} cannot be loaded safely: {_unpickle_reason(err)}; "
                             "neurodash reads only .safetensors files or plain state dicts of "
                             "tensors (torch.load with weights_only=True)") from err
    # Unwrap the usual training-script containers.
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelError(f"{path} does not hold a state dict of tensors")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _unpickle_reason(err: Exception) -> str:
    """torch's reason without its advice to retry with weights_only=False (never safe here)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln or "Unsupported global" in ln:
            return ln.split("WeightsUnpickler error:")[-1].strip()[:200] + " (a pickled object)"
    first = next((ln for ln in lines if "weights_only" not in ln and "trust" not in ln), "")
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__


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


def split_tag(spec: str) -> tuple[str, str | None]:
    """"resnet50:IMAGENET1K_V1" -> ("resnet50", "IMAGENET1K_V1"); "resnet50" -> ("resnet50", None)."""
    name, _, tag = spec.partition(":")
    return name, (tag or None)


def torchvision_weights(spec: str):
    """The weights enum member of a torchvision spec ("resnet50" -> DEFAULT, "resnet50:TAG" -> TAG)."""
    import torchvision
    name, tag = split_tag(spec)
    if name not in torchvision_names():
        raise ModelError(f"unknown torchvision architecture {name!r}; see `python -m neurodash models`")
    enum = torchvision.models.get_model_weights(name)
    if tag is None or tag == "DEFAULT":
        return enum.DEFAULT
    try:
        return enum[tag]
    except KeyError:
        raise ModelError(f"{name} has no weights {tag!r}; choose one of "
                         f"{', '.join(w.name for w in enum)}") from None


def torchvision_default_file(spec: str) -> tuple[Path, str]:
    """Where TORCH_HOME's hub cache keeps the weights of ``spec`` ("resnet50[:TAG]"), and their URL."""
    from neurodash import hub
    weights = torchvision_weights(spec)
    return hub.torch_checkpoints_dir() / weights.url.rsplit("/", 1)[-1], weights.url


def torchvision_file(spec: str) -> Path:
    """The cached weights file of a torchvision spec, downloaded with progress when missing and online."""
    from neurodash import hub
    try:
        return hub.torch_file(torchvision_weights(spec).url)
    except hub.HubError as err:
        raise ModelError(f"no weights for {spec}: {err}, or pass --weights FILE") from err


def _num_classes(sd: dict) -> int | None:
    """Classifier width from the last 2-D weight of a state dict (user checkpoints may differ from 1000)."""
    for key in reversed(list(sd)):
        if key.endswith("weight") and sd[key].ndim == 2:
            return int(sd[key].shape[0])
    return None


def _torchvision_model(name: str, weights: str | None, *, user_checkpoint: bool) -> tuple[nn.Module, Path | None, int]:
    import torchvision
    spec, name = name, split_tag(name)[0]
    chosen = torchvision_weights(spec)  # also checks the name and the tag
    builder = torchvision.models.get_model_builder(name)
    size = int(chosen.transforms().crop_size[0])
    if weights == "random":
        return builder(weights=None), None, size
    if weights is None:
        path = torchvision_file(spec)
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


def split_open_clip(spec: str) -> tuple[str, str | None]:
    """"ViT-B-32/laion2b_s34b_b79k" -> ("ViT-B-32", "laion2b_s34b_b79k"); a config-JSON path has no tag."""
    if spec.endswith(".json") or "/" not in spec or Path(spec).expanduser().exists():
        return spec, None
    arch, tag = spec.rsplit("/", 1)
    return arch, tag


def open_clip_pretrained(arch: str, tag: str) -> tuple[Path, dict]:
    """(cached file, open_clip's pretrained config) of an open_clip tag; downloads when missing and
    online: Hugging Face hub entries through the HF cache, plain URLs into open_clip's ~/.cache/clip."""
    import open_clip
    from open_clip import pretrained as oc_pretrained

    from neurodash import hub
    cfg = oc_pretrained.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise ModelError(f"open_clip {arch} has no pretrained tag {tag!r}; known: "
                         f"{', '.join(tags) or 'none'}")
    try:
        if cfg.get("hf_hub"):
            # open_clip's convention: "org/repo/" (default file name) or "org/repo/file"
            repo, filename = os.path.split(cfg["hf_hub"])
            filename = filename or oc_pretrained.HF_WEIGHTS_NAME
            names = list(oc_pretrained._get_safe_alternatives(filename)) + [filename]
            path = hub.hf_file(repo, names)
        elif cfg.get("url"):
            path = hub.url_file(cfg["url"], Path("~/.cache/clip").expanduser())
        else:
            raise ModelError(f"open_clip {arch}/{tag} names no file to load")
    except hub.HubError as err:
        raise ModelError(f"no weights for open_clip:{arch}/{tag}: {err}") from err
    return path, cfg


def load_open_clip(arch: str, weights: str | os.PathLike | None):
    """(model, preprocess, tokenizer) of an open_clip model: weights from a local checkpoint, or
    from a pretrained tag ("ViT-B-32/laion2b_s34b_b79k") through the library's cache."""
    import open_clip
    arch, tag = split_open_clip(arch)
    name = resolve_open_clip_arch(arch)
    if weights is None and tag is not None:
        path, cfg = open_clip_pretrained(name, tag)
        try:  # open_clip reads the file itself (weights_only=True) and applies its key fixes
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=str(path), image_mean=cfg.get("mean"), image_std=cfg.get("std"))
        except RuntimeError as err:
            raise ModelError(f"weights in {path} do not fit open_clip {name}: "
                             f"{str(err).splitlines()[0][:300]}") from err
        model.eval()
        return model, preprocess, open_clip.get_tokenizer(name)
    if weights is None:
        raise ModelError(f"open_clip:{arch} needs a pretrained tag (open_clip:{arch}/<tag>, see "
                         "open_clip.list_pretrained()) or a local checkpoint (--weights FILE)")
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    if weights == "random":
        return model.eval(), preprocess, open_clip.get_tokenizer(name)
    sd = load_state_dict_file(weights)
    if not any(k.startswith("visual.") for k in sd):
        _load_into(model.visual, sd, Path(weights))  # a checkpoint of the image tower alone
    else:
        _load_into(model, sd, Path(weights))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(name)


def pretrained_file(name: str) -> Path | None:
    """The file a model or concept-source spec reads its weights from when no --weights is given
    (fetched into its library cache if missing): torchvision specs and open_clip tags; None else."""
    if name.startswith("open_clip:"):
        arch, tag = split_open_clip(name.split(":", 1)[1])
        return None if tag is None else open_clip_pretrained(resolve_open_clip_arch(arch), tag)[0]
    if name in ("shapes-cnn", "tiny-clip", "checkpoint", "clip", "ground_truth"):
        return None
    return torchvision_file(name)


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
        if weights is not None:
            load_state_dict_file(weights)  # refuses pickles, .npz, folders with the file's name
        try:
            model, _, _ = world_clip.load_clip(weights)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            where = f"tiny-clip weights {weights}: " if weights is not None else ""
            raise ModelError(where + str(err).splitlines()[0]) from err
        module, size = _clip_tower(model)
        net = module.net
        weights_path = None if weights is None else Path(weights).resolve()
    elif name.startswith("open_clip:"):
        model, _, _ = load_open_clip(name.split(":", 1)[1], weights)
        module, size = _clip_tower(model)
        net = module.net
        weights_path = (None if weights == "random" else Path(weights).resolve() if weights
                        else pretrained_file(name).resolve())
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
    auto = module.auto_pooling if name == "shapes-cnn" else {}
    return LoadedModel(module=module, name=name, input_size=size, to_input=make_to_input(size, device),
                       net=net, weights_path=weights_path, device=device, auto_pooling=auto)


def load_architecture(name: str, *, arch: str | None = None, weights=None,
                      device: torch.device | str | None = "cpu") -> LoadedModel:
    """The model's architecture, for listing layers: random weights where the real ones would have
    to be fetched (torchvision specs, open_clip tags), the given or shipped weights otherwise."""
    if name == "checkpoint" and weights is None and arch:
        return load_model(split_tag(arch)[0], weights="random", device=device)
    if weights is None and name not in ("shapes-cnn", "tiny-clip", "checkpoint"):
        if name.startswith("open_clip:"):
            arch_name, _tag = split_open_clip(name.split(":", 1)[1])
            return load_model(f"open_clip:{arch_name}", weights="random", device=device)
        return load_model(split_tag(name)[0], weights="random", device=device)
    return load_model(name, weights=weights, arch=arch, device=device)


def available_models() -> list[dict]:
    """What `python -m neurodash models` lists: name, source, and whether weights are here."""
    rows = [
        {"name": "shapes-cnn", "source": "shipped (assets/)", "weights": "shipped"},
        {"name": "tiny-clip", "source": "shipped (assets/), image tower", "weights": "shipped"},
    ]
    for n in torchvision_names():
        try:
            path, _ = torchvision_default_file(n)
            have = ("cached" if path.is_file() else
                    f"not cached: downloads {path.name} into {path.parent} on first use")
        except (ValueError, KeyError, AttributeError):
            have = "--weights FILE"
        rows.append({"name": n, "source": "torchvision", "weights": have})
    rows.append({"name": "<torchvision name>:<TAG>", "source": "torchvision, a named weights enum",
                 "weights": "e.g. resnet50:IMAGENET1K_V1"})
    rows.append({"name": "open_clip:<arch>/<tag>", "source": "open_clip image tower",
                 "weights": "pretrained tag (Hugging Face cache), or open_clip:<arch> --weights FILE"})
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
        pooling = self.loaded.auto_pooling.get(self.layer, "auto") if self.pooling == "auto" else self.pooling
        return pool(out.float(), pooling, batch=x.shape[0])


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
