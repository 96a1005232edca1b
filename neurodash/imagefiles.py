"""Reading one image file into a square uint8 RGB array, the way every probe reads its images."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageFile, ImageOps

# Pillow must not silently accept half a file: a truncated image is "corrupt" and is skipped.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ProbeError(ValueError):
    """A probe cannot be built from what was given (the message says why)."""


def to_rgb8(img: Image.Image) -> Image.Image:
    """Any PIL image -> 8-bit RGB: EXIF orientation applied, alpha composited on white,
    16/32-bit and float greys rescaled, CMYK/palette/LA converted."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if (img.mode.startswith("I;16") or arr.max(initial=0) > 255) else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def square(img: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` and centre-crop: uint8 (size,size,3)."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def read_image(path: str | os.PathLike, size: int) -> np.ndarray:
    with Image.open(path) as img:
        img.load()
        return square(to_rgb8(img), size)


