"""The pieces of Hypothesize: the high-activation crop and the silhouette-chosen clustering."""

import numpy as np

from neurodash.sieve import cluster_embeddings, context_images, crop_box, crop_images


def test_crop_box_holds_the_peak_region_and_is_square():
    amap = np.zeros((16, 16))
    amap[2:5, 10:14] = 1.0     # the strong region (top right)
    amap[12:14, 1:3] = 0.3     # a weaker one, below half the peak: left out
    t, l, b, r = crop_box(amap, (64, 64), pad_frac=0.0, min_frac=0.0)
    assert b - t == r - l                         # square
    assert t <= 2 * 4 and b >= 5 * 4 - 2         # holds the region's rows (upsampling blurs by < 1 cell)
    assert l <= 10 * 4 and r >= 14 * 4 - 2       # and columns
    assert t < 24 and b <= 32 and l >= 32        # and not the weak blob in the bottom left


def test_crop_box_edges_and_silent_maps():
    assert crop_box(np.zeros((8, 8)), (64, 64)) == (0, 0, 64, 64)
    amap = np.zeros((8, 8)); amap[0, 0] = 1.0
    t, l, b, r = crop_box(amap, (64, 64), min_frac=0.25)
    assert (t, l) == (0, 0) and b - t >= 16 and r - l >= 16 and b <= 64 and r <= 64


def test_crop_images_zooms_into_the_region():
    img = np.zeros((1, 64, 64, 3), np.uint8)
    img[0, 40:56, 8:24] = (255, 0, 0)  # a red square bottom-left
    amap = np.zeros((1, 16, 16)); amap[0, 10:14, 2:6] = 1.0
    crop = crop_images(img, amap, pad_frac=0.0, min_frac=0.0)
    assert crop.shape == img.shape
    red_share = (crop[0, ..., 0] > 128).mean()
    assert red_share > 0.5 > (img[0, ..., 0] > 128).mean()


def test_context_images_keep_scale_and_dim_the_rest():
    img = np.zeros((1, 64, 64, 3), np.uint8)
    img[0, 40:56, 8:24] = (255, 0, 0)   # the region
    img[0, 4:12, 44:60] = (0, 0, 255)   # something else, outside it
    amap = np.zeros((1, 16, 16)); amap[0, 10:14, 2:6] = 1.0
    ctx = context_images(img, amap, pad_frac=0.0, min_frac=0.0)
    assert ctx.shape == img.shape
    np.testing.assert_array_equal(ctx[0, 40:56, 8:24], img[0, 40:56, 8:24])  # same pixels, same scale
    outside = ctx[0, 4:12, 44:60].astype(int)
    assert (np.abs(outside - 128) < 0.3 * 255).all() and (outside[..., 2] > outside[..., 0]).all()  # dimmed, still there


def _normalise(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_two_clear_groups_split_in_two():
    rng = np.random.default_rng(0)
    a = _normalise(np.array([1.0, 0, 0, 0]) + 0.05 * rng.normal(size=(12, 4)))
    b = _normalise(np.array([0, 1.0, 0, 0]) + 0.05 * rng.normal(size=(8, 4)))
    c = cluster_embeddings(np.vstack([a, b]))
    assert c.k == 2 and c.silhouette > 0.5
    assert np.bincount(c.labels).tolist() == [12, 8]  # largest cluster first
    assert len(set(c.labels[:12])) == 1 and len(set(c.labels[12:])) == 1


def test_no_structure_stays_one_cluster():
    rng = np.random.default_rng(1)
    c = cluster_embeddings(_normalise(rng.normal(size=(20, 64))))
    assert c.k == 1 and np.isnan(c.silhouette) and (c.labels == 0).all()
    assert c.scores and max(c.scores.values()) < 0.25  # splits were tried, none good enough


def test_a_lone_outlier_is_not_a_cluster():
    rng = np.random.default_rng(2)
    a = _normalise(np.array([1.0, 0, 0]) + 0.05 * rng.normal(size=(19, 3)))
    out = _normalise(np.array([[0, 0, 1.0]]))
    c = cluster_embeddings(np.vstack([a, out]))
    assert c.k == 1


def test_tiny_inputs():
    assert cluster_embeddings(np.eye(3)).k == 1
    assert cluster_embeddings(np.zeros((0, 4))).labels.shape == (0,)
