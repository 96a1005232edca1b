"""ImageNet-style folders (class sub-folders by synset or by class name), written here."""
import numpy as np
from PIL import Image

from neurodash import imagenet
from neurodash.concepts import concept_set, ground_truth
from neurodash.probes import FolderProbe


def _save(path, color, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_synset_folders_label_the_imagenet_classes(tmp_path):
    for i, (syn, col) in enumerate([("n01440764", (200, 0, 0)), ("n01443537", (0, 200, 0))]):
        for j in range(2):
            _save(tmp_path / "val" / syn / f"ILSVRC2012_val_{i}{j}.JPEG", col)
    probe = FolderProbe(tmp_path / "val", size=16)
    names = concept_set("imagenet")
    assert probe.label_names == names and probe.labels.shape == (4, 1000)
    gt = ground_truth(probe, names)
    assert gt[:, 0].tolist() == [True, True, False, False]      # tench
    assert gt[:, 1].tolist() == [False, False, True, True]      # goldfish
    assert gt.sum() == 4


def test_class_name_folders_and_other_folders(tmp_path):
    _save(tmp_path / "a" / "great_white_shark" / "x.png", (1, 2, 3))
    _save(tmp_path / "a" / "Cardigan" / "y.png", (1, 2, 3))       # the dog, not the sweater
    _save(tmp_path / "a" / "cardigan" / "z.png", (1, 2, 3))
    probe = FolderProbe(tmp_path / "a", size=16)
    cols = [int(np.flatnonzero(row)[0]) for row in probe.labels]
    names = imagenet.class_names()
    assert [names[c] for c in cols] == ["Cardigan", "cardigan", "great white shark"]
    assert imagenet.class_index("n01443537") == 1 and imagenet.class_index("GREAT_WHITE_SHARK") == 2
    # class folders that are not ImageNet classes label with their own names (ImageFolder order)
    _save(tmp_path / "b" / "zebra crossing" / "1.png", (9, 9, 9))
    _save(tmp_path / "b" / "apples" / "2.png", (9, 9, 9))
    other = FolderProbe(tmp_path / "b", size=16)
    assert other.label_names == ["apples", "zebra crossing"]
    assert other.labels.tolist() == [[True, False], [False, True]]
    # images at the top level: no class folders, no labels
    _save(tmp_path / "c" / "loose.png", (9, 9, 9))
    _save(tmp_path / "c" / "k" / "in.png", (9, 9, 9))
    assert FolderProbe(tmp_path / "c", size=16).labels is None


def test_imagenet_folder_workspace_has_ground_truth(tmp_path, cnn_weights, home):
    from neurodash import analysis
    from neurodash.precompute import precompute
    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace
    for i, syn in enumerate(["n01440764", "n01443537", "n01484850"]):
        for j in range(3):
            _save(tmp_path / "val" / syn / f"{j}.png", (80 * i, 40 * j, 200 - 60 * i), size=(70, 64))
    ws = Workspace.open(Recipe(probe=str(tmp_path / "val"), concept_set="imagenet",
                               weights=str(cnn_weights)))
    precompute(ws)
    assert ws.has_ground_truth and not ws.has_masks and len(ws.concept_names) == 1000
    assert ws.concepts.dtype == bool and ws.concepts.sum(0)[:3].tolist() == [3, 3, 3]
    table = analysis.layer_table(ws, metrics=["iou"])
    assert set(table["gt_concept"]) <= {"tench", "goldfish", "great white shark"}  # the classes present
