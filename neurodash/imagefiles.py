"""Reading one image file into a square uint8 RGB array, the way every probe reads its images."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

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


# Images are checked before they are decoded at full size: Image.open only reads the header, so a
# 200-byte PNG claiming 1×100,000 pixels (or 30,000×30,000) is refused for the price of its header.
PIXEL_BUDGET = 40_000_000  # 40 MP: a 7,000×5,700 photo; decoded RGB ≈ 120 MB
MAX_ASPECT = 20.0          # a panorama is ~10:1; 1×30,000 strips only cost memory when resized
Image.MAX_IMAGE_PIXELS = PIXEL_BUDGET  # Pillow's own guard (raises above twice this) as a backstop
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # we refuse those anyway


class ImageRefused(ValueError):
    """An image is refused before decoding (pixel budget or aspect ratio); the message says why."""


def check_image_size(img: Image.Image) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageRefused(f"has no pixels ({w}×{h})")
    if w * h > PIXEL_BUDGET:
        raise ImageRefused(f"too large: {w}×{h} = {w * h:,} pixels, the budget is {PIXEL_BUDGET:,}")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ImageRefused(f"extreme aspect ratio {w}×{h} (limit {MAX_ASPECT:g}:1)")


@contextlib.contextmanager
def open_image(path: str | os.PathLike, size: int | None = None) -> Iterator[Image.Image]:
    """A decoded image, checked against the pixel budget and aspect limit BEFORE decoding; JPEGs
    are decoded at a reduced scale (``draft``) when ``size`` is much smaller than the file."""
    try:
        opened = Image.open(path)
    except Image.DecompressionBombError as err:  # Pillow's own guard fired first (> 2× budget)
        raise ImageRefused(f"too large: {err}".split(", could be")[0]) from err
    with opened as img:
        check_image_size(img)
        if size is not None and img.format == "JPEG":
            img.draft("RGB", (size, size))
        img.load()
        yield img


def read_image(path: str | os.PathLike, size: int) -> np.ndarray:
    try:
        with open_image(path, size) as img:
            return square(to_rgb8(img), size)
    except ImageRefused as err:
        raise ProbeError(f"image {path} is refused: {err}") from err


