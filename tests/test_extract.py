import math

import numpy as np
import pytest
import torch

from neurodash import extract as ex
from neurodash.models import LayerReader, load_model
from neurodash.probes import WorldProbe
from neurodash.progress import Cancelled


@pytest.fixture(scope="module")
def reader(cnn_weights):
    lm = load_model("shapes-cnn", weights=cnn_weights, device="cpu")
    return LayerReader(lm, "block3", "mean")


def test_streamed_acts_topk_and_maps_match_a_direct_pass(reader, array_probe):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (70, 64, 64, 3), dtype=np.uint8)
    probe = array_probe(images)
    n_neurons, map_shape = ex.probe_shape(reader, probe)
    assert (n_neurons, map_shape) == (128, (16, 16))
    out = np.zeros((70, n_neurons), np.float32)
    res = ex.extract(reader, probe, out, k=20, batch=16, pixel_threshold=True)
    pooled, maps = reader.read(reader.loaded.to_input(images))
    acts, maps = pooled.numpy(), maps.numpy()
    np.testing.assert_allclose(out, acts, rtol=1e-4, atol=1e-5)
    # top-k: the k largest per neuron, best first, with the maps of those images
    for j in (0, 5, 127):
        order = np.argsort(-acts[:, j], kind="stable")[:20]
        np.testing.assert_allclose(res.topk_acts[j], acts[order, j], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.sort(acts[res.topk_ids[j], j])[::-1], acts[order, j], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(res.topk_maps[j], maps[res.topk_ids[j], j], rtol=2e-3, atol=2e-3)
    # pixel threshold: the q-th largest map value over the probe, q = ceil(0.005 · n·h·w)
    q = math.ceil(0.005 * 70 * 16 * 16)
    flat = maps.transpose(1, 0, 2, 3).reshape(128, -1)
    np.testing.assert_allclose(res.pixel_threshold, -np.sort(-flat, axis=1)[:, q - 1], rtol=1e-4, atol=1e-5)


def test_k_larger_than_probe_and_cancel(reader, array_probe):
    images = np.zeros((5, 64, 64, 3), np.uint8)
    out = np.zeros((5, 128), np.float32)
    res = ex.extract(reader, array_probe(images), out, k=20, batch=2)
    assert res.topk_ids.shape == (128, 5) and sorted(res.topk_ids[0]) == [0, 1, 2, 3, 4]

    class Stop:
        def is_set(self):
            return True
    with pytest.raises(Cancelled):
        ex.extract(reader, array_probe(images), out, batch=2, cancel=Stop())


def test_top_fraction_threshold():
    a = np.random.default_rng(1).normal(size=(1000, 7)).astype(np.float32)
    thr = ex.top_fraction_threshold(a, 0.01, block=3)
    np.testing.assert_allclose(thr, -np.sort(-a, axis=0)[9])


def test_pixel_iou_matches_brute_force(reader):
    probe = WorldProbe(24, seed=1, size=64)
    out = np.zeros((24, 128), np.float32)
    maps_all = np.zeros((24, 128, 16, 16), np.float32)
    res = ex.extract(reader, probe, out, batch=8, pixel_threshold=True, maps_out=maps_all)
    iou = ex.pixel_iou(maps_all, probe, res.pixel_threshold, batch=10)
    images, _, masks = __import__("neurodash").world.sample(24, 1, size=64)
    maps = torch.from_numpy(maps_all)
    up = torch.nn.functional.interpolate(maps, size=(64, 64), mode="bilinear", align_corners=False).numpy()
    on = (up > res.pixel_threshold[None, :, None, None]).reshape(24, 128, -1).astype(np.float64)
    shown = masks.reshape(24, masks.shape[1], -1).astype(np.float64)
    inter = np.einsum("inp,icp->nc", on, shown)
    union = on.sum(axis=(0, 2))[:, None] + shown.sum(axis=(0, 2))[None, :] - inter
    expected = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    assert inter.sum() > 0  # the check below compares real overlaps, not zeros
    np.testing.assert_allclose(iou, expected, rtol=0, atol=1e-12)
    assert iou.shape == (128, masks.shape[1]) and (iou >= 0).all() and (iou <= 1).all()
