"""neurodash.ui.overlay: tiles are JPEG (what st.image would make of them) at the asked size."""

import io

import numpy as np
from PIL import Image

from neurodash.ui import overlay


def test_tiles_are_jpeg_at_size_with_and_without_heat():
    images = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    heat = np.zeros((2, 4, 4), dtype=np.float32)
    heat[0, 1, 1] = 5.0
    for maps in (None, heat):
        out = overlay.tiles(images, maps, size=64)
        assert len(out) == 2
        for b in out:
            img = Image.open(io.BytesIO(b))
            assert img.format == overlay.TILE_FORMAT == "JPEG" and img.size == (64, 64)
    hot = np.asarray(Image.open(io.BytesIO(overlay.tiles(images, heat, size=64)[0])))
    cold = np.asarray(Image.open(io.BytesIO(overlay.tiles(images, heat, size=64)[1])))
    assert hot.max() > 100 and cold.max() < 10  # the heat shows where the unit fired, nowhere else
