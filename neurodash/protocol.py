"""What analysis and SIEVE need of a workspace: a small typed protocol.

`neurodash.workspace.Workspace` satisfies it; tests hand in small stand-ins. Nothing is guessed
with getattr: what is optional is typed as optional (a stand-in's ``cache`` may be None, then
nothing is cached).
"""

from __future__ import annotations

from typing import Optional, Protocol, Sequence

import numpy as np

from neurodash.annotations import Annotations
from neurodash.cache import CacheDir
from neurodash.recipe import Recipe


class Clip(Protocol):
    """A CLIP for naming and scoring concepts; both outputs L2-normalised."""

    key: str  # identifies this CLIP in cache keys

    def encode_images(self, images: np.ndarray) -> np.ndarray: ...

    def encode_texts(self, names: Sequence[str]) -> np.ndarray: ...


class ProbeView(Protocol):
    """What SIEVE and the analysis read of a workspace."""

    recipe: Optional[Recipe]
    cache: Optional[CacheDir]
    n_images: int
    n_neurons: int
    concept_names: list[str]
    acts: np.ndarray          # (n, N)
    concepts: np.ndarray      # (n, C)
    has_ground_truth: bool
    has_masks: bool
    clip_key: str             # identifies clip() without loading it

    def images(self, ids) -> np.ndarray: ...

    def top_images(self, neuron: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def forward(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def top1_threshold(self) -> np.ndarray: ...

    def clip(self) -> Clip: ...

    def metric_matrix(self, metric: str, alpha: Optional[float] = None) -> np.ndarray: ...


class WorkspaceView(ProbeView, Protocol):
    """Everything the neuron-level analysis reads: the probe view plus the layer's bookkeeping."""

    layer: str
    annotations: Annotations

    def neuron(self, neuron: int) -> int: ...

    def selectivity(self) -> np.ndarray: ...

    def default_metrics(self) -> list[str]: ...


