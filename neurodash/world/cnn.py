"""The shapes CNN: a small multi-label classifier over the world's object kinds.

Four conv blocks (named block1..block3, block4, reachable by model.get_submodule). block4 has one
channel per object kind, and the head reads each kind's logit from its own channel only (a global
pool, then a per-channel scale and bias): the SqueezeNet / network-in-network classifier. So the
default layer's units are trained to be sparse, spatial detectors of one kind each, which is what
the dashboard's methods are built to find. The shipped head pools by the peak (max): under a mean,
a large object of a sibling kind (same colour and texture, another shape) outscored a small object
of the unit's own kind on area alone. Input: float (B,3,H,W) in [0,1]; the normalisation lives
inside the module.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .store import CNN_WEIGHTS

WIDTHS = (32, 64, 128)  # block1..block3; block4 has one channel per concept
_MEAN = (0.45, 0.45, 0.45)
_STD = (0.30, 0.30, 0.30)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=False))


class ChannelHead(nn.Module):
    """logit_c = scale_c * pooled_c + bias_c: each concept's logit reads only its own channel."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), 4.0))
        self.bias = nn.Parameter(torch.full((n,), -4.0))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled * self.weight + self.bias


POOLS = ("mean", "max")


class ShapesCNN(nn.Module):
    """pool: how the head reads a unit's map ("max": its peak, so a unit is trained to say where
    its kind is, and a large object of a sibling kind cannot win on area). Stored with the weights
    (the `max_pool` buffer), so the dashboard reads the units the way they were trained."""

    def __init__(self, n_concepts: int, widths: tuple[int, ...] = WIDTHS, pool: str = "mean"):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.register_buffer("max_pool", torch.tensor(pool == "max"))
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.block1 = _block(3, widths[0])
        self.pool1 = nn.MaxPool2d(2)
        self.block2 = _block(widths[0], widths[1])
        self.pool2 = nn.MaxPool2d(2)
        self.block3 = _block(widths[1], widths[2])
        self.pool3 = nn.MaxPool2d(2)
        self.block4 = _block(widths[2], n_concepts)
        self.head = ChannelHead(n_concepts)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last convolutions run ~1.45x faster on CPU here (oneDNN's native layout); the
        # maps go back to the usual layout for whoever reads them
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        x = self.pool1(self.block1(x))
        x = self.pool2(self.block2(x))
        x = self.pool3(self.block3(x))
        return self.block4(x).contiguous()

    @property
    def pooling(self) -> str:
        return "max" if bool(self.max_pool) else "mean"

    @property
    def auto_pooling(self) -> dict:
        """layer -> how the network itself pools it: the head's layer (block4) as the head does."""
        return {"block4": self.pooling}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concept logits (B, n_concepts)."""
        maps = self.features(x)
        return self.head(maps.amax(dim=(2, 3)) if bool(self.max_pool) else maps.mean(dim=(2, 3)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before the pool was stored were trained with the mean.
        state_dict.setdefault(prefix + "max_pool", torch.tensor(False))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def images_to_tensor(images) -> torch.Tensor:
    """uint8 (n,H,W,3) numpy -> float (n,3,H,W) in [0,1]."""
    t = torch.from_numpy(images).permute(0, 3, 1, 2)
    return t.float().div_(255.0)


def load_cnn(weights: str | Path | None = None) -> ShapesCNN:
    """The shipped CNN from assets/ (safetensors), on CPU and in eval mode."""
    from safetensors.torch import load_file

    from .vocabulary import vocabulary

    path = Path(weights) if weights is not None else CNN_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"shapes CNN weights not found at {path}; remake them with `python -m neurodash.world.train cnn`")
    state = load_file(str(path), device="cpu")
    n_concepts = state["head.weight"].shape[0]
    if state["head.weight"].ndim != 1:
        raise ValueError(f"{path} holds first-edition shapes CNN weights; retrain with "
                         "`python -m neurodash.world.train cnn`")
    if n_concepts != len(vocabulary()):
        raise ValueError(f"{path} predicts {n_concepts} concepts but the world vocabulary has "
                         f"{len(vocabulary())}; retrain with `python -m neurodash.world.train cnn`")
    model = ShapesCNN(n_concepts)
    model.load_state_dict(state)
    return model.eval()
