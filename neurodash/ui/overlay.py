"""Heatmap overlays for image grids: a spatial activation map blended over its image.

Presentation only (no statistics): upsample the map to the image, colour it, blend. Maps of one
neuron share one scale (the neuron's largest map value) so a faint overlay means a weak response.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

# Anchor colours of a red-to-yellow "hot" ramp (no matplotlib here); weak heat is also nearly
# transparent (see overlay), so only the responding region is coloured.
_RAMP = np.array([[120, 0, 0], [220, 20, 0], [255, 120, 0], [255, 230, 40]], dtype=np.float32)


def _ramp(v: np.ndarray) -> np.ndarray:
    """The ramp at values v in [0, 1], linearly between its anchor colours, as uint8 RGB."""
    pos = v * (len(_RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_RAMP) - 2)
    frac = (pos - lo)[..., None]
    rgb = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    return rgb.round().astype(np.uint8)


# The ramp tabulated at 4096 levels: a tile's colours are one table lookup (a 256-px tile took ~4 ms
# the exact way, most of a fresh unit's tiles); neighbouring levels differ by at most one unit.
_LEVELS = 4096
_TABLE = _ramp(np.linspace(0.0, 1.0, _LEVELS, dtype=np.float32))


def colorize(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (any shape) to uint8 RGB (shape + (3,)) along the ramp."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    return _TABLE[(v * (_LEVELS - 1) + 0.5).astype(np.intp)]


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscale of a uint8 (H,W,3) image to (size,size,3): small probe images stay crisp."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.NEAREST))


def overlay(image: np.ndarray, heat: np.ndarray, scale: float, *, size: int, strength: float = 0.75) -> np.ndarray:
    """Blend `heat` (h,w), divided by `scale`, over `image` (H,W,3) uint8; returns (size,size,3) uint8.

    The map is resized bilinearly (it is a coarse feature map); the blend weight grows with the heat,
    so unresponsive parts of the image stay as they are and the peak stands out.
    """
    base = upscale(image, size).astype(np.float32)
    norm = np.clip(np.asarray(heat, dtype=np.float32) / (scale if scale > 0 else 1.0), 0.0, 1.0)
    big = np.asarray(Image.fromarray(norm).resize((size, size), Image.BILINEAR))
    color = colorize(big).astype(np.float32)
    # weight linear in the heat: the responding region reads clearly, the rest stays as it is
    w = (strength * big)[..., None]
    return (base * (1 - w) + color * w).round().clip(0, 255).astype(np.uint8)


def data_uri(image: np.ndarray, size: int) -> str:
    """A small PNG of a uint8 (H,W,3) image as a data URI (table thumbnails)."""
    buf = io.BytesIO()
    Image.fromarray(upscale(image, size)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


TILE_FORMAT = "JPEG"  # st.image re-encodes opaque images as JPEG (quality 90) unless they already are


def jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes at Streamlit's own quality: st.image(..., output_format="JPEG") then sends them as they are."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=TILE_FORMAT, quality=90)
    return buf.getvalue()


def tiles(images, heat=None, *, size: int) -> list[bytes]:
    """JPEG tiles of uint8 (k,H,W,3) images upscaled to `size`, with heat maps (k,h,w) on one shared scale."""
    if heat is not None and len(images):
        scale = float(max(float(m.max()) for m in heat))
        return [jpeg(overlay(images[i], heat[i], scale, size=size)) for i in range(len(images))]
    return [jpeg(upscale(images[i], size)) for i in range(len(images))]
