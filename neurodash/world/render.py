"""Rasteriser: scenes -> uint8 images and an owner map (which object, or the background, each pixel
shows). Vectorised over the batch; Python loops only over object slots, shapes and textures.
Hard edges (no anti-aliasing) keep every pixel owned by exactly one thing, so masks are exact.
"""
from __future__ import annotations

import numpy as np

from . import rng
from .scenes import MAX_OBJECTS, Scenes
from .vocabulary import ALL_SHAPES, BG_COLOURS, BG_PATTERNS, COLOURS, TEXTURES

BACKGROUND = MAX_OBJECTS  # owner value of background pixels
TEXTURE_PERIOD = 1 / 14  # image-relative period of stripes, dots and checks
GRID_PERIOD = 1 / 8
_DARK = 0.4  # texture marks are the object's colour darkened by this factor
_OBJ_RGB = np.array(list(COLOURS.values()), dtype=np.float32)
_BG_RGB = np.array(list(BG_COLOURS.values()), dtype=np.float32)


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shape membership in object coordinates (circumradius 1, rotated)."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.75
    if shape == "triangle":
        # Equilateral: three half-planes at 120 degrees, inradius 0.5, circumradius 1.
        out = np.ones(u.shape, dtype=bool)
        for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
            out &= u * np.cos(a) + v * np.sin(a) <= 0.5
        return out
    if shape == "star":
        rho = np.hypot(u, v)
        t = (np.arctan2(v, u) * (5 / (2 * np.pi))) % 1.0
        return rho <= 0.42 + 0.58 * np.abs(2 * t - 1)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.28) & (av <= 0.9)) | ((av <= 0.28) & (au <= 0.9))
    if shape == "ring":
        rr = u * u + v * v
        return (rr <= 1.0) & (rr >= 0.55 ** 2)
    if shape == "bar":
        return (np.abs(u) <= 0.95) & (np.abs(v) <= 0.3)
    if shape == "crescent":
        return (u * u + v * v <= 1.0) & ((u - 0.5) ** 2 + v * v >= 0.75 ** 2)
    if shape == "semicircle":
        return (u * u + v * v <= 1.0) & (v >= -0.1)
    raise ValueError(f"unknown shape {shape!r}")


def _marks(texture: str, tu: np.ndarray, tv: np.ndarray) -> np.ndarray:
    """Texture marks (darkened pixels) from coordinates in texture periods."""
    if texture == "plain":
        return np.zeros(tu.shape, dtype=bool)
    if texture == "striped":
        return np.floor(tu).astype(np.int64) % 2 == 1
    if texture == "checkered":
        return (np.floor(tu).astype(np.int64) + np.floor(tv).astype(np.int64)) % 2 == 1
    if texture == "dotted":
        # Dots sit on a sparser lattice than the checks so the two stay apart at 64 px.
        fu, fv = (tu / 1.3) % 1.0 - 0.5, (tv / 1.3) % 1.0 - 0.5
        return fu * fu + fv * fv <= 0.3 ** 2
    raise ValueError(f"unknown texture {texture!r}")


def _background(scenes: Scenes, size: int) -> np.ndarray:
    n = len(scenes)
    img = np.broadcast_to(_BG_RGB[scenes.bg_colour][:, None, None, :], (n, size, size, 3)).copy()
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    grid = scenes.bg_pattern == BG_PATTERNS.index("grid")
    if grid.any():
        line = (centres / GRID_PERIOD) % 1.0 < max(1.0 / (GRID_PERIOD * size), 0.08)
        on = line[None, :] | line[:, None]
        base = _BG_RGB[scenes.bg_colour[grid]]
        shade = np.where(base.mean(axis=1, keepdims=True) > 128, base * 0.55, base * 0.5 + 90)
        sub = img[grid]
        sub[:, on] = shade[:, None, :]
        img[grid] = sub
    noisy = scenes.bg_pattern == BG_PATTERNS.index("noisy")
    if noisy.any():
        noise = rng.uniform(scenes.key, scenes.ids[noisy], size * size, field_offset=1 << 20)
        noise = (noise.reshape(-1, size, size, 1).astype(np.float32) - 0.5) * 110
        img[noisy] = img[noisy] + noise
    return img


def render(scenes: Scenes, size: int = 64, *, paint: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """Images uint8 (n, size, size, 3) and owner int8 (n, size, size): slot index or BACKGROUND.
    paint=False: the owner map only (images None), for masks of images already seen; the shapes'
    geometry is the same code, so the owner map is identical, at about half the cost."""
    if size < 8:
        raise ValueError(f"image size must be at least 8 pixels, got {size}")
    n = len(scenes)
    img = _background(scenes, size) if paint else None
    owner = np.full((n, size, size), BACKGROUND, dtype=np.int8)
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    for k in reversed(range(MAX_OBJECTS)):  # slot 0 last, on top
        for s_idx, s_name in enumerate(ALL_SHAPES):
            sel = np.flatnonzero(scenes.active[:, k] & (scenes.shape[:, k] == s_idx))
            if sel.size == 0:
                continue
            r = scenes.radius[sel, k].astype(np.float32)[:, None, None]
            dx = centres[None, None, :] - scenes.cx[sel, k].astype(np.float32)[:, None, None]
            dy = centres[None, :, None] - scenes.cy[sel, k].astype(np.float32)[:, None, None]
            cos = np.cos(scenes.angle[sel, k]).astype(np.float32)[:, None, None]
            sin = np.sin(scenes.angle[sel, k]).astype(np.float32)[:, None, None]
            ru = dx * cos + dy * sin  # rotated, in image units
            rv = -dx * sin + dy * cos
            inside = _inside(s_name, ru / r, rv / r)
            own = owner[sel]
            own[inside] = k
            owner[sel] = own
            if not paint:
                continue
            marks = np.zeros(inside.shape, dtype=bool)
            tex = scenes.texture[sel, k]
            for t_idx, t_name in enumerate(TEXTURES):
                t_sel = tex == t_idx
                if t_sel.any() and t_name != "plain":
                    marks[t_sel] = _marks(t_name, ru[t_sel] / TEXTURE_PERIOD, rv[t_sel] / TEXTURE_PERIOD)
            base = _OBJ_RGB[scenes.colour[sel, k]][:, None, None, :]
            colours = np.where(marks[..., None], base * _DARK, base)
            region = img[sel]
            img[sel] = np.where(inside[..., None], colours, region)
    return (None if img is None else np.clip(img, 0, 255).astype(np.uint8)), owner
