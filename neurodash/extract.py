"""Activation extraction: batched, no-grad forward passes streamed to a memory-mapped array.

Memory stays flat in the probe size: each batch's pooled activations go straight into the (n,N)
output array (a memmap from the cache), and per neuron only a running top-k (ids, activations,
spatial maps) is kept. When the probe has masks, the top 0.5% of every neuron's map values over the
whole probe is kept too (NetDissect's threshold), so pixel IoU needs just one more pass.

Every partial result merges exactly (neurodash.shards runs ranges of the probe apart): the top-k is
ordered by (activation desc, image id asc), so ties break the same way whatever the split; the
top-0.5% values are a multiset; pixel-IoU counts are integers summed in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from neurodash.models import LayerReader
from neurodash.progress import check
from neurodash.read_ahead import read_ahead

PIXEL_QUANTILE = 0.005  # NetDissect: a unit is "on" at its top 0.5% of map values over the probe


@dataclass
class Extraction:
    topk_ids: np.ndarray    # int64 (N,k), best first
    topk_acts: np.ndarray   # float32 (N,k)
    topk_maps: np.ndarray   # float16 (N,k,h,w)
    pixel_threshold: np.ndarray | None  # float32 (N,) or None when not asked for
    top_values: np.ndarray | None = None  # float32 (N,q): the values behind it, for merging


class TopK:
    """Running per-neuron top-k of pooled activations with their maps (torch, on the model's device)."""

    def __init__(self, n_neurons: int, k: int, map_shape: tuple[int, int], device):
        self.k = k
        self.vals = torch.full((n_neurons, k), -math.inf, device=device)
        self.ids = torch.full((n_neurons, k), -1, dtype=torch.long, device=device)
        self.maps = torch.zeros((n_neurons, k, *map_shape), device=device)

    def add(self, pooled: torch.Tensor, maps: torch.Tensor, start: int) -> None:
        b = pooled.shape[0]
        if not bool((pooled.T > self.vals[:, -1:]).any()):
            return  # nothing in this batch enters any top-k
        vals = torch.cat([self.vals, pooled.T], dim=1)                       # (N, k+B)
        batch_ids = torch.arange(start, start + b, device=self.ids.device).expand(len(vals), b)
        ids = torch.cat([self.ids, batch_ids], dim=1)
        # a stable sort keeps equal activations in id order (the kept ones precede the batch's,
        # and have smaller ids): (activation desc, id asc), the order merge() reproduces
        top = torch.sort(vals, dim=1, descending=True, stable=True).indices[:, :self.k]
        self.vals = torch.gather(vals, 1, top)
        self.ids = torch.gather(ids, 1, top)
        # New maps: from the old top-k where top < k, else from this batch. Two gathers of (N,k)
        # maps instead of concatenating all (N, k+B) maps first (B > k: far less copying).
        hw = self.maps.shape[2:]
        from_batch = top >= self.k
        old = torch.gather(self.maps, 1, top.clamp(max=self.k - 1)[:, :, None, None].expand(-1, -1, *hw))
        new = torch.gather(maps.transpose(0, 1), 1,
                           (top - self.k).clamp(min=0)[:, :, None, None].expand(-1, -1, *hw))
        self.maps = torch.where(from_batch[:, :, None, None], new, old)


def merge_topk(parts: list[Extraction], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, acts, maps) of the top-k over consecutive id ranges, given in id order: the same
    (activation desc, id asc) order one pass over the whole probe gives."""
    vals = torch.from_numpy(np.concatenate([p.topk_acts for p in parts], axis=1))
    ids = np.concatenate([p.topk_ids for p in parts], axis=1)
    maps = np.concatenate([p.topk_maps for p in parts], axis=1)
    top = torch.sort(vals, dim=1, descending=True, stable=True).indices[:, :k].numpy()
    rows = np.arange(len(top))[:, None]
    return ids[rows, top], vals.numpy()[rows, top], maps[rows, top]


def merge_thresholds(parts: list[np.ndarray], q: int) -> tuple[np.ndarray, np.ndarray]:
    """(threshold (N,), top values (N,q)) from each range's top-q values per neuron."""
    vals = torch.topk(torch.from_numpy(np.concatenate(parts, axis=1)), q, dim=1).values
    return vals[:, -1].numpy().astype(np.float32), vals.numpy()


class TopValues:
    """Per neuron, the q largest values seen so far (for a quantile over all map pixels of the probe)."""

    def __init__(self, n_neurons: int, q: int, device):
        self.q = q
        self.vals = torch.full((n_neurons, q), -math.inf, device=device)

    def add(self, maps: torch.Tensor) -> None:
        flat = maps.transpose(0, 1).reshape(maps.shape[1], -1)              # (N, B*h*w)
        self.vals = torch.topk(torch.cat([self.vals, flat], dim=1), self.q, dim=1).values

    def threshold(self) -> np.ndarray:
        return self.vals[:, -1].cpu().numpy().astype(np.float32)


class SpillFile:
    """A raw float32 array of shape (n, *row) on disk, read and written by row slices with plain
    file I/O (no memory map, so its pages never count towards the process's resident memory)."""

    def __init__(self, path, n: int, row_shape: tuple[int, ...]):
        self.path, self.shape = path, (n, *row_shape)
        self.row = int(np.prod(row_shape)) * 4
        self._f = open(path, "w+b")
        self._f.truncate(n * self.row)

    def __setitem__(self, rows: slice, value: np.ndarray) -> None:
        self._f.seek(rows.start * self.row)
        self._f.write(np.ascontiguousarray(value, dtype=np.float32).tobytes())

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        self._f.seek(start * self.row)
        data = np.frombuffer(bytearray(self._f.read((stop - start) * self.row)), dtype=np.float32)
        return data.reshape(stop - start, *self.shape[1:])

    def close(self) -> None:
        self._f.close()


def probe_shape(reader: LayerReader, probe) -> tuple[int, tuple[int, int]]:
    """(N neurons, map (h,w)) from one image of the probe."""
    pooled, maps = reader.read(reader.loaded.to_input(probe.images([0])))
    return pooled.shape[1], tuple(maps.shape[2:])


def pixel_quantile_count(n: int, map_shape) -> int:
    """How many map values per neuron are at or above NetDissect's top-0.5% threshold."""
    return max(1, math.ceil(PIXEL_QUANTILE * n * map_shape[0] * map_shape[1]))


def extract(reader: LayerReader, probe, out: np.ndarray, *, k: int = 20, batch: int = 64,
            pixel_threshold: bool = False, maps_out: np.ndarray | None = None, progress=None,
            cancel=None, start: int = 0) -> Extraction:
    """Fill ``out`` (m,N) with pooled activations of probe images start..start+m-1 (the whole probe
    by default; ``maps_out`` (m,N,h,w) with their spatial maps when given); return the top-k (ids are
    probe ids) and, if asked, the pixel thresholds with the top values behind them. k and the
    threshold's quantile are those of the whole probe, so ranges merge into the whole result."""
    m, n_neurons = out.shape
    n = len(probe)
    to_input = reader.loaded.to_input
    device = reader.loaded.device
    top = tops = None
    done = 0
    for first, images in read_ahead(probe.chunks(batch, start=start, stop=start + m)):
        check(cancel, "extraction")
        pooled, maps = reader.read(to_input(images))
        if top is None:
            top = TopK(n_neurons, min(k, n), tuple(maps.shape[2:]), device)
            if pixel_threshold:
                tops = TopValues(n_neurons, pixel_quantile_count(n, maps.shape[2:]), device)
        row = first - start
        out[row:row + len(images)] = pooled.cpu().numpy()
        if maps_out is not None:
            maps_out[row:row + len(images)] = maps.cpu().numpy()
        top.add(pooled, maps, first)
        if tops is not None:
            tops.add(maps)
        done += len(images)
        if progress:
            progress(done / m, f"activations {done}/{m}")
    return Extraction(
        topk_ids=top.ids.cpu().numpy(), topk_acts=top.vals.cpu().numpy().astype(np.float32),
        topk_maps=top.maps.cpu().numpy().astype(np.float16),
        pixel_threshold=None if tops is None else tops.threshold(),
        top_values=None if tops is None else tops.vals.cpu().numpy().astype(np.float32),
    )


def top_fraction_threshold(acts: np.ndarray, fraction: float = 0.01, block: int = 256) -> np.ndarray:
    """Per neuron, the ⌈fraction·n⌉-th largest activation (read in column blocks of the memmap)."""
    n, n_neurons = acts.shape
    m = max(1, math.ceil(fraction * n))
    out = np.empty(n_neurons, np.float32)
    for s in range(0, n_neurons, block):
        cols = np.asarray(acts[:, s:s + block], dtype=np.float32)
        out[s:s + block] = -np.partition(-cols, m - 1, axis=0)[m - 1]
    return out


def _pixel_counts(flat: np.ndarray) -> np.ndarray:
    """True pixels per row of a bool (b, C, P) array: a byte sum into the narrowest integer that
    holds P (4x faster than np.count_nonzero along an axis, which converts every element)."""
    dtype = np.uint16 if flat.shape[-1] <= np.iinfo(np.uint16).max else np.int64
    return np.add.reduce(flat.view(np.uint8), axis=-1, dtype=dtype)


class PixelIoUCounts:
    """NetDissect's counts over some images: per (neuron, concept) the active pixels under the
    concept, per neuron the active pixels, per concept its pixels. Integers (kept in float64), so
    counts over parts of the probe add up exactly to the counts over the whole."""

    def __init__(self, thresholds: np.ndarray, device="cpu"):
        self.device = torch.device(device)
        self.thr = torch.as_tensor(np.asarray(thresholds, np.float32), device=self.device)
        self.inter = self.on = self.present = None

    def add(self, mp: torch.Tensor, masks: np.ndarray) -> None:
        """mp: float32 maps (b,N,h,w) on the device; masks: bool (b,C,H,W) of the same images."""
        device, thr = self.device, self.thr
        b, n_neurons = mp.shape[:2]
        n_concepts = masks.shape[1]
        flat = masks.reshape(b, n_concepts, -1)
        if self.inter is None:
            self.inter = torch.zeros(n_neurons, n_concepts, dtype=torch.float64, device=device)
            self.on = torch.zeros(n_neurons, dtype=torch.float64, device=device)
            self.present = torch.zeros(n_concepts, dtype=torch.float64, device=device)
        area = _pixel_counts(flat)                                              # (b, C) pixels
        self.present += torch.from_numpy(area.sum(axis=0).astype(np.float64)).to(device)
        # Bilinear values are convex combinations of the map's cells, so a map with no cell above
        # θ has no active pixel: only the few (image, neuron) pairs with a cell above θ are upsampled.
        img, unit = torch.nonzero(mp.flatten(2).amax(2) > thr[None, :], as_tuple=True)
        if not len(img):
            return
        up = torch.nn.functional.interpolate(mp[img, unit][:, None], size=masks.shape[-2:],
                                             mode="bilinear", align_corners=False)
        active = (up.flatten(1) > thr[unit, None]).float()                      # (P, H*W)
        self.on += torch.bincount(unit, weights=active.sum(1).double(), minlength=n_neurons)
        # An image shows few of the C concepts: dot each active map only with the masks of the
        # concepts its image shows (padded to the most any image shows), then add per (unit, concept).
        shown = area > 0
        width = max(1, int(shown.sum(axis=1).max()))
        order = np.argsort(~shown, axis=1, kind="stable")[:, :width]            # shown concepts first
        valid = np.take_along_axis(shown, order, axis=1)                        # (b, width)
        picked = np.take_along_axis(flat, order[:, :, None], axis=1) & valid[:, :, None]
        picked = torch.from_numpy(picked).to(device).float()                    # (b, width, H*W)
        cols = torch.from_numpy(order).to(device)                               # (b, width)
        # nonzero lists pairs image by image: one small product per image keeps memory at one
        # image's masks (a gather of every pair's masks could reach gigabytes on a big layer)
        images, counts = torch.unique_consecutive(img, return_counts=True)
        start = 0
        for i, count in zip(images.tolist(), counts.tolist()):
            rows = slice(start, start + count)
            start += count
            under = active[rows] @ picked[i].T                                  # (count, width)
            flat_index = (unit[rows, None] * n_concepts + cols[i][None, :]).flatten()
            self.inter.view(-1).index_add_(0, flat_index, under.flatten().double())

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.inter.cpu().numpy(), self.on.cpu().numpy(), self.present.cpu().numpy()


def iou_from_counts(inter: np.ndarray, on: np.ndarray, present: np.ndarray) -> np.ndarray:
    inter, on, present = (torch.from_numpy(np.asarray(a, np.float64)) for a in (inter, on, present))
    union = on[:, None] + present[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(inter)).numpy()


def pixel_iou(maps: np.ndarray, probe, thresholds: np.ndarray, *, batch: int = 64, device="cpu",
              progress=None, cancel=None) -> np.ndarray:
    """NetDissect IoU (N,C): Σ|map>θ ∧ mask| / Σ|map>θ ∨ mask| over the probe, the map upsampled
    (bilinear) to the mask size and thresholded at its probe-wide top-0.5% value θ.

    ``maps`` (n,N,h,w) are the stored spatial maps of every probe image (a memmap), so no second
    forward pass is needed.
    """
    device = torch.device(device)
    n = maps.shape[0]
    acc = PixelIoUCounts(thresholds, device)
    done = 0
    for start, _images, _labels, masks in read_ahead(probe.chunks(batch, masks=True, images=False)):
        check(cancel, "pixel IoU")
        b = len(masks)
        acc.add(torch.from_numpy(np.asarray(maps[start:start + b], dtype=np.float32)).to(device), masks)
        done += b
        if progress:
            progress(done / n, f"pixel IoU {done}/{n}")
    return iou_from_counts(*acc.counts())
