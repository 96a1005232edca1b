"""Pickled checkpoints are refused without running their payload; errors name the file and never
repeat torch's advice to retry with weights_only=False."""

import os
import pickle

import pytest
import torch

from neurodash.cli import main
from neurodash.models import ModelError, load_state_dict_file


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _pickles(tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    files = {}
    files["reduce.pt"] = tmp_path / "reduce.pt"
    torch.save({"w": torch.zeros(2), "x": Payload(marker)}, files["reduce.pt"])
    files["module.pt"] = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), files["module.pt"])
    files["plain.pkl"] = tmp_path / "plain.pkl"
    files["plain.pkl"].write_bytes(pickle.dumps(Payload(marker)))
    files["function.pth"] = tmp_path / "function.pth"
    torch.save({"f": os.getcwd}, files["function.pth"])
    return marker, files


@pytest.mark.parametrize("name", ["reduce.pt", "module.pt", "plain.pkl", "function.pth"])
def test_pickled_checkpoints_are_refused(tmp_path, name):
    marker, files = _pickles(tmp_path)
    with pytest.raises(ModelError) as err:
        load_state_dict_file(files[name])
    msg = str(err.value)
    assert str(files[name]) in msg and "cannot be loaded safely" in msg
    assert "weights_only=False" not in msg and "trust" not in msg
    assert not marker.exists()


@pytest.mark.parametrize("how", [["layers", "--model", "tiny-clip", "--weights"],
                                 ["layers", "--model", "shapes-cnn", "--weights"],
                                 ["precompute", "--concept-source", "clip", "--clip-weights"]])
def test_cli_names_the_file_of_a_pickled_checkpoint(tmp_path, capsys, how):
    marker, files = _pickles(tmp_path)
    assert main([*how, str(files["reduce.pt"]), *(["--home", str(tmp_path / "h")]
                                                 if how[0] == "precompute" else [])]) == 2
    err = capsys.readouterr().err
    assert str(files["reduce.pt"]) in err and "weights_only=False" not in err and not marker.exists()


@pytest.mark.parametrize("kind,expect", [("dir", "is a directory"), ("npz", ".npz archive"),
                                         ("missing", "does not exist"), ("truncated", "safetensors"),
                                         ("fifo", "not a regular file")])
def test_other_bad_weights_files(tmp_path, kind, expect, cnn_weights):
    import numpy as np
    path = {"dir": tmp_path, "npz": tmp_path / "w.npz", "missing": tmp_path / "nope.pt",
            "truncated": tmp_path / "t.safetensors", "fifo": tmp_path / "f.pt"}[kind]
    if kind == "npz":
        np.savez(path, a=np.zeros(2))
    elif kind == "truncated":
        path.write_bytes(cnn_weights.read_bytes()[:500])
    elif kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(ModelError, match=expect) as err:
        load_state_dict_file(path)
    assert str(path) in str(err.value)
