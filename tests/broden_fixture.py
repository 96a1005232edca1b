"""A small Broden dataset in NetDissect's exact layout, written by the tests that need one."""
import csv

import numpy as np
from PIL import Image

LABELS = [  # number, name, category
    (1, "red-c", "color"), (2, "blue-c", "color"), (3, "wall", "object"), (4, "sky", "object"),
    (300, "car", "object"),            # > 255: needs the G channel (300 = 44 + 256·1)
    (301, "street-s", "scene"), (302, "striped", "texture"), (303, "sky", "part"),
]


def encode(numbers):
    numbers = np.asarray(numbers, np.int32)
    rgb = np.zeros(numbers.shape + (3,), np.uint8)
    rgb[..., 0] = numbers % 256
    rgb[..., 1] = numbers // 256
    return rgb


def write_broden(root):
    """A 5-image Broden in NetDissect's layout: 32² images, 16² masks, pixel and whole-image labels.
    Returns (root, truth): per image its object and color label maps and scene/texture labels."""
    (root / "images" / "ade20k").mkdir(parents=True)
    rng = np.random.default_rng(0)
    index = []
    truth = []  # per image: the (16,16) label maps of its object and color masks, and image labels
    for i in range(5):
        img = f"ade20k/ADE_{i:04d}.jpg"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "images" / img)
        obj = np.full((16, 16), 3)                     # wall everywhere ...
        obj[: 4 + i, :] = 4                            # ... sky on top
        if i % 2 == 0:
            obj[10:, 2:9] = 300                        # a car on even images
        color = np.zeros((16, 16), np.int32)
        color[:, : 2 + 2 * i] = 1 if i < 3 else 2
        Image.fromarray(encode(obj)).save(root / "images" / img.replace(".jpg", "_object.png"))
        Image.fromarray(encode(color)).save(root / "images" / img.replace(".jpg", "_color.png"))
        scene = "301" if i in (1, 2) else ""
        texture = "302" if i == 4 else ""
        index.append([img, "train", 32, 32, 16, 16, img.replace(".jpg", "_color.png"),
                      img.replace(".jpg", "_object.png"), "", "", scene, texture])
        truth.append((obj, color, scene, texture))
    with open(root / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "split", "ih", "iw", "sh", "sw", "color", "object", "part", "material",
                    "scene", "texture"])
        w.writerows(index)
    with open(root / "label.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "name", "category", "frequency", "coverage", "syns"])
        w.writerow([0, "-", "", 0, 0, ""])
        for number, name, cat in LABELS:
            w.writerow([number, name, f"{cat}(3)", 3, 1.5, ""])
    with open(root / "category.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "first", "last", "count", "frequency"])
        for cat in ("color", "object", "part", "material", "scene", "texture"):
            w.writerow([cat, 1, 303, 2, 5])
    for cat in ("color", "object", "part", "material", "scene", "texture"):
        with open(root / f"c_{cat}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["code", "number", "name", "frequency", "coverage"])
            for code, (number, name, c) in enumerate([l for l in LABELS if l[2] == cat], start=1):
                w.writerow([code, number, name, 3, 1.5])
    return root, truth
