"""Where the world's shipped models live and how they are written: weights as safetensors and a
training record as JSON, each written atomically (a cut-off run never leaves half a file)."""
from __future__ import annotations

import json
from pathlib import Path

from neurodash.assets import ASSETS

CNN_WEIGHTS = ASSETS / "shapes_cnn.safetensors"
CNN_RECORD = ASSETS / "shapes_cnn.record.json"
CLIP_CONFIG = ASSETS / "tiny_clip.json"
CLIP_WEIGHTS = ASSETS / "tiny_clip.safetensors"
CLIP_RECORD = ASSETS / "tiny_clip.record.json"
FREQUENCY_RECORD = ASSETS / "world_concepts.json"
FILE_STEMS = {"cnn": "shapes_cnn", "clip": "tiny_clip"}


def save_weights(state: dict, path: Path, dtype=None) -> None:
    """A state dict as safetensors (floating tensors cast to `dtype` when given)."""
    from safetensors.torch import save_file

    tensors = {k: (v.detach().to(dtype) if dtype is not None and v.is_floating_point() else v.detach())
               .contiguous() for k, v in state.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.chmod(0o644)
    tmp.replace(path)


def write_record(path: Path, record: dict) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def read_record(path: Path) -> dict:
    """A training record, {} if absent."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}
