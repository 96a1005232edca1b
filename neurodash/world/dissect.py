"""A sanity look at the shipped CNN: for each unit of a layer, the world concept whose pixel masks
best overlap the unit's thresholded activation maps (NetDissect IoU: per-unit threshold at the top
`quantile` of its activations over all images and positions, maps upsampled to the image size).

    python -m neurodash.world.dissect [--n 400] [--layer block4] [--top 12]

A diagnostic for the world's own models, not the dashboard's metric code (that lives in stats/).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from .cnn import images_to_tensor
from .sampling import sample
from .vocabulary import vocabulary

DISSECT_SEED = 555_555


@torch.no_grad()
def unit_concept_iou(model, layer: str, n: int = 400, seed: int = DISSECT_SEED, quantile: float = 0.005,
                     chunk: int = 50) -> np.ndarray:
    """IoU float (N units, C concepts) over n fresh world images."""
    images, _, masks = sample(n, seed)
    module = model.get_submodule(layer)
    maps = []
    handle = module.register_forward_hook(lambda m, i, o: maps.append(o.detach()))
    for i in range(0, n, chunk):
        model(images_to_tensor(images[i:i + chunk]))
    handle.remove()
    acts = torch.cat(maps)  # (n, N, h, w)
    units = acts.shape[1]
    thresh = torch.quantile(acts.transpose(0, 1).reshape(units, -1), 1 - quantile, dim=1)
    inter = np.zeros((units, masks.shape[1]))
    area_a = np.zeros(units)
    area_c = masks.reshape(n, masks.shape[1], -1).sum(axis=(0, 2)).astype(np.float64)
    size = images.shape[1]
    for i in range(0, n, chunk):
        up = torch.nn.functional.interpolate(acts[i:i + chunk], size=(size, size), mode="bilinear",
                                             align_corners=False)
        on = (up > thresh.view(1, -1, 1, 1)).float()  # (b, N, H, W)
        m = torch.from_numpy(masks[i:i + chunk]).float()  # (b, C, H, W)
        inter += torch.einsum("bnp,bcp->nc", on.flatten(2), m.flatten(2)).numpy()
        area_a += on.sum(dim=(0, 2, 3)).numpy()
    union = area_a[:, None] + area_c[None, :] - inter
    return inter / np.maximum(union, 1)


def main(argv=None) -> int:
    from . import CNN_DEFAULT_LAYER, load_cnn

    parser = argparse.ArgumentParser(prog="python -m neurodash.world.dissect", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--layer", default=CNN_DEFAULT_LAYER)
    parser.add_argument("--top", type=int, default=12, help="how many units to list (best IoU first)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    iou = unit_concept_iou(load_cnn(), args.layer, n=args.n)
    names = vocabulary()
    best = iou.argmax(axis=1)
    score = iou.max(axis=1)
    print(f"layer {args.layer}: {iou.shape[0]} units; median best IoU {np.median(score):.3f}; "
          f"units with best IoU > 0.2: {(score > 0.2).sum()}")
    for u in np.argsort(-score)[: args.top]:
        second = np.argsort(-iou[u])[1]
        print(f"  unit {u:3d}: {names[best[u]]:<20s} IoU {score[u]:.3f}   (next: {names[second]} {iou[u, second]:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
