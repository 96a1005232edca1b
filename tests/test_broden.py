"""Broden in NetDissect's exact layout (a small fixture written by tests.broden_fixture): labels,
masks (R + 256·G), and pixel IoU with every binary metric on real segmentations."""
import os

import numpy as np
import pytest
from PIL import Image

from neurodash.broden import BrodenProbe, decode_mask, read_labels
from neurodash.imagefiles import ProbeError
from neurodash.concepts import concept_set
from neurodash.probes import make_probe
from tests.broden_fixture import encode as _encode
from tests.broden_fixture import write_broden


@pytest.fixture()
def broden(tmp_path):
    return write_broden(tmp_path / "broden1_32")


def test_broden_labels_masks_and_concept_set(broden):
    root, truth = broden
    names = concept_set(f"broden:{root}")
    assert names == ["red-c", "blue-c", "wall", "sky (object)", "car", "street-s", "striped", "sky (part)"]
    assert [l.number for l in read_labels(root)] == [1, 2, 3, 4, 300, 301, 302, 303]
    probe = make_probe(str(root), size=32)
    assert isinstance(probe, BrodenProbe) and len(probe) == 5 and probe.label_names == names
    masks = probe.masks(range(5))
    assert masks.shape == (5, 8, 16, 16)
    col = {n: j for j, n in enumerate(names)}
    for i, (obj, color, scene, texture) in enumerate(truth):
        np.testing.assert_array_equal(masks[i, col["car"]], obj == 300)
        np.testing.assert_array_equal(masks[i, col["sky (object)"]], obj == 4)
        np.testing.assert_array_equal(masks[i, col["red-c"]], color == 1)
        assert masks[i, col["street-s"]].all() == bool(scene) and masks[i, col["street-s"]].any() == bool(scene)
        assert masks[i, col["striped"]].all() == bool(texture)
        assert not masks[i, col["sky (part)"]].any()
    np.testing.assert_array_equal(probe.labels, masks.any(axis=(2, 3)))
    # chunked with masks: the same masks, labels and images
    starts = []
    for start, images, labels, mk in probe.chunks(2, masks=True):
        starts.append(start)
        np.testing.assert_array_equal(mk, masks[start:start + len(mk)])
        np.testing.assert_array_equal(images, probe.images(range(start, start + len(images))))
    assert starts == [0, 2, 4]
    unread = list(probe.chunks(2, masks=True, images=False))  # pixel IoU's pass: masks only
    assert [c[1] for c in unread] == [None] * 3
    np.testing.assert_array_equal(np.concatenate([c[3] for c in unread]), masks)
    assert decode_mask(_encode(np.array([[300, 5]])))[0].tolist() == [300, 5]


def test_broden_pixel_iou_and_binary_metrics_through_a_workspace(broden, cnn_weights, home):
    """precompute on Broden: pixel IoU equals a brute-force NetDissect IoU over the real masks, and
    every binary metric runs on the Broden labels."""
    import torch

    from neurodash.extract import PIXEL_QUANTILE
    from neurodash.stats import metrics as M
    from neurodash import analysis
    from neurodash.precompute import precompute
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    root, _ = broden
    ws = Workspace.open(Recipe(probe=str(root), concept_set=f"broden:{root}", weights=str(cnn_weights)))
    precompute(ws)
    assert ws.has_masks and ws.concept_names == concept_set(f"broden:{root}")
    iou = ws.metric_matrix("pixel_iou")
    probe = ws.probe
    maps = ws.forward(probe.images(range(len(probe))))[1]                    # (n,N,h,w)
    n, N, h, w = maps.shape
    q = int(np.ceil(PIXEL_QUANTILE * n * h * w))
    thr = -np.sort(-maps.transpose(1, 0, 2, 3).reshape(N, -1), axis=1)[:, q - 1]
    up = torch.nn.functional.interpolate(torch.from_numpy(maps), size=(16, 16), mode="bilinear",
                                         align_corners=False).numpy()
    on = up > thr[None, :, None, None]                                       # (n,N,16,16)
    masks = probe.masks(range(n))                                            # (n,C,16,16)
    inter = np.einsum("inxy,icxy->nc", on.astype(np.int64), masks.astype(np.int64))
    union = on.sum((0, 2, 3))[:, None] + masks.sum((0, 2, 3))[None, :] - inter
    expected = np.where(union > 0, inter / np.maximum(union, 1), 0)
    np.testing.assert_allclose(iou, expected, atol=1e-12)
    assert iou.max() > 0
    for metric in M.METRICS:  # every metric, the binary ones on the Broden labels
        S = ws.metric_matrix(metric)
        assert S.shape == (N, len(ws.concept_names)) and np.isfinite(S).any()
    table = analysis.layer_table(ws, metrics=["iou", "pixel_iou"])
    assert set(table["pixel_iou_concept"]) <= set(ws.concept_names)


def test_broden_images_and_masks_are_read_as_hashed_and_never_outside(tmp_path):
    root, _truth = write_broden(tmp_path / "broden")
    probe = BrodenProbe(root, size=32)
    probe.listing_hash()
    before = probe.images([0])
    img = root / "images" / probe.files[0]
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)  # replaced after the hash
    with pytest.raises(ProbeError, match="changed since the workspace was computed"):
        probe.images([0])
    assert before.shape == (1, 32, 32, 3)

    mask = root / "images" / probe.files[1].replace(".jpg", "_object.png")
    outside = tmp_path / "elsewhere.png"
    mask.rename(outside)
    os.symlink(outside, mask)  # a mask re-pointed out of the Broden folder
    with pytest.raises(ProbeError, match="outside the probe folder"):
        probe.masks([1])
