"""Test helpers (imported as `tests.helpers`, never from a conftest).

- StandInWorkspace: a small stand-in workspace over the shapes world with hand-built colour-detector
  neurons, satisfying `neurodash.protocol.ProbeView`. The probe is world images labelled with the
  world's coarse "attributes" concept set, in which red and blue objects are rare (2% each): SIEVE's
  AR compares renders with a neuron's top-1% probe activation, which singles out the concept only
  when the probe shows it about that rarely (colours are in 15-25% of plain world images).
  Neuron 0 is a red detector (its map is the red mask), neuron 1 a blue detector, neuron 2 the mean
  brightness (diffuse: not selective).
- ColourClip: a transparent CLIP stand-in.
- app_test(): the dashboard under Streamlit's AppTest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodash.cache import CacheDir
from neurodash.world.vocabulary import COLOURS

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
RED, BLUE, BRIGHT = 0, 1, 2
BUILT_PROBE_N = 160  # probe size of the shared `built` workspace fixture


def shown(markdown_body) -> str:
    """What a markdown body shows as text: escaped punctuation (ui.literal) read back as itself."""
    import re
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown_body))


SVG = "{http://www.w3.org/2000/svg}"


def svg_charts(at) -> list:
    """The static SVG charts an AppTest run drew (st.image with an SVG source), parsed (ElementTree roots)."""
    import base64
    import xml.etree.ElementTree as ET

    prefix = "data:image/svg+xml;base64,"
    return [ET.fromstring(base64.b64decode(url[len(prefix):])) for el in at.get("image") for url in el.value
            if url.startswith(prefix)]


def tile_count(at) -> int:
    """How many picture tiles (not charts) the main area shows."""
    return sum(1 for el in at.main.get("image") for url in el.value if not url.startswith("data:image/svg"))


def chart_title(svg) -> str:
    return svg.findtext(f"{SVG}title") or ""


def marks(svg, cls: str = "bar") -> list[dict]:
    """The data-* attributes of a chart's marks of one class (bars, thresholds), in drawing order."""
    return [{k[5:]: v for k, v in el.attrib.items() if k.startswith("data-")}
            for el in svg.iter() if el.get("class") == cls]


def concept_panels(svg) -> dict[str, list[dict]]:
    """The concept-score chart's panels: {panel title (metric and band kind): the bars' data}."""
    return {g.get("data-title"): marks(g) for g in svg.iter(f"{SVG}g") if g.get("class") == "panel"}


def app_test():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=60)


def colour_detector():
    import torch
    from torch import nn

    class ColourDetector(nn.Module):
        def forward(self, x):  # x float (B,3,H,W) in [0,1]
            r, g, b = x[:, 0], x[:, 1], x[:, 2]
            red = torch.relu(r - torch.maximum(g, b) - 0.5) * 5
            blue = torch.relu(b - torch.maximum(r, g) - 0.4) * 5
            bright = x.mean(dim=1)
            maps = torch.stack([red, blue, bright], dim=1)
            return nn.functional.avg_pool2d(maps, 4)  # 16x16 maps on 64x64 images, like a CNN layer

    return ColourDetector().eval()


class StandInWorkspace:
    """Its CLIP (`clip()`) is the transparent ColourClip below."""

    has_ground_truth = True
    has_masks = False
    recipe = None
    clip_key = "colour-clip"
    RED, BLUE, BRIGHT = RED, BLUE, BRIGHT

    def __init__(self, directory, n: int = 1000, rare: float = 0.02, seed: int = 3):
        from neurodash import world

        self.cache = CacheDir(directory)
        self._clip = ColourClip()
        self.model = colour_detector()
        images, labels, _ = world.sample(4 * n, seed=seed, masks=False, concept_set="attributes")
        names = world.vocabulary("attributes")
        red, blue = labels[:, names.index("red")], labels[:, names.index("blue")]
        # ColourClip reads a white background as white objects (same RGB within its tolerance):
        # leave those scenes out so a crop's colour is the objects'
        usable = ~labels[:, names.index("white background")]
        k = int(round(rare * n))
        keep = np.concatenate([np.flatnonzero(red & ~blue & usable)[:k], np.flatnonzero(blue & ~red & usable)[:k],
                               np.flatnonzero(~red & ~blue & usable)[: n - 2 * k]])
        keep.sort()
        self._images, labels = images[keep], labels[keep]
        self.concepts = labels.astype(np.float32)
        self.concept_names = world.vocabulary("attributes")
        acts, maps = self.forward(self._images)
        self.acts, self._maps = acts, maps
        self.n_images, self.n_neurons = acts.shape
        self.calls = 0  # forward calls on new images (to check the render cache)

    def forward(self, images):
        import torch

        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
        with torch.inference_mode():
            maps = self.model(x)
        self.calls = getattr(self, "calls", 0) + 1
        return maps.mean(dim=(2, 3)).numpy(), maps.numpy()

    def images(self, ids):
        return self._images[np.asarray(ids)]

    def top_images(self, neuron, k):
        ids = np.argsort(-self.acts[:, neuron], kind="stable")[:k]
        return ids, self.acts[ids, neuron], self._maps[ids, neuron]

    def top1_threshold(self):
        return np.quantile(self.acts, 0.99, axis=0)

    def clip(self):
        return self._clip

    def metric_matrix(self, metric, alpha=None):
        from neurodash.stats.metrics import similarity

        return similarity(self.acts, self.concepts, metric, alpha=alpha)


class ColourClip:
    """A transparent stand-in for CLIP: images embed as their share of pixels of each world colour,
    colour names embed as one-hots, colour+shape names as a weaker copy, everything else flat."""

    colours = list(COLOURS)
    key = "colour-clip"

    def encode_images(self, images):
        rgb = np.asarray(list(COLOURS.values()), dtype=np.float32)
        px = np.asarray(images, dtype=np.float32).reshape(len(images), -1, 3)[:, ::3]  # a pixel sample is plenty
        near = np.linalg.norm(px[:, :, None, :] - rgb[None, None], axis=-1) < 60
        e = near.mean(axis=1) + 1e-3
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def encode_texts(self, names):
        out = np.full((len(names), len(self.colours)), 0.05)
        for i, n in enumerate(names):
            words = n.split()
            if n in self.colours:
                out[i, self.colours.index(n)] = 1.0
            elif len(words) == 2 and words[0] in self.colours and words[1] != "background":
                out[i, self.colours.index(words[0])] = 0.6
        return out / np.linalg.norm(out, axis=1, keepdims=True)




# ---- corrupting files the way real life does (tests/reliability) ------------------------------------

def keep_stamp(path, write):
    """Run ``write()`` on ``path`` and put its old mtime (and atime) back, as `cp -p`, `rsync -a`,
    tar or `touch -d` do: size and mtime then match the original, only ctime (and the bytes) differ."""
    import os
    st = os.stat(path)
    write()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns


def corrupt_same_size(path) -> None:
    """Change bytes of a file without changing its size or mtime: for JSON a digit becomes another
    digit (still valid JSON, a silently different number), for anything else the last 8 bytes flip."""
    from pathlib import Path
    path = Path(path)
    raw = bytearray(path.read_bytes())
    if path.suffix == ".json":
        i = next(i for i in range(len(raw) - 1, -1, -1) if chr(raw[i]).isdigit())
        raw[i] = ord("7") if raw[i] != ord("7") else ord("3")
    else:
        for i in range(1, min(9, len(raw))):
            raw[-i] ^= 0x5A
    keep_stamp(path, lambda: path.write_bytes(bytes(raw)))


def same_size_replacement(path, new_bytes: bytes) -> None:
    """Overwrite ``path`` in place with other bytes of the same size, keeping its mtime."""
    from pathlib import Path
    path = Path(path)
    assert len(new_bytes) == path.stat().st_size
    keep_stamp(path, lambda: path.write_bytes(new_bytes))


def frame(at, column: str):
    """The first table on an AppTest page with this column (AppTest does not expose every
    dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def run_query(at, **query):
    """Run the app with these URL query parameters; fails on an exception."""
    at.query_params.update({k: str(v) for k, v in query.items()})
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(page: str):
    """The app opened (st.navigation runs once), then switched to `page`; fails on an exception."""
    at = app_test()
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at
