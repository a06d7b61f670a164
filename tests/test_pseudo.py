"""Pseudo-labels: thresholds, the two passes, what stays on disk, and a shared teacher predicting once."""
import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import ConcatDataset

from thesislib import pseudo
from thesislib.data import Cityscapes
from thesislib.data.labels import NUM_CLASSES
from thesislib.pseudo import class_thresholds, make_pseudo_labels


class Blocks(nn.Module):
    """A 'teacher' that reads the train id off the red channel of the conftest scene (block 3 unsure)."""

    def forward(self, x):
        red = (x[:, 0] * 255).round()
        ids = torch.bucketize(red, torch.tensor([65.0, 115.0, 165.0]))
        logits = torch.nn.functional.one_hot(ids, NUM_CLASSES).permute(0, 3, 1, 2).float() * 8
        logits[:, :, :, -3:] *= 0.05                                 # low confidence on the right edge
        return logits


def pool(root):
    return ConcatDataset([Cityscapes(root, "train"), Cityscapes(root, "train_extra")])


def test_only_labels_stay_and_a_shared_teacher_predicts_once(cityscapes_root, tmp_path, monkeypatch):
    calls = []
    real = pseudo.predict_probs
    monkeypatch.setattr(pseudo, "predict_probs", lambda *a, **k: calls.append(1) or real(*a, **k))
    q = make_pseudo_labels(Blocks(), pool(cityscapes_root), tmp_path / "a" / "pseudo", torch.device("cpu"),
                           mode="confidence", threshold=0.9, flip=False)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["pseudo"]       # pass 1 removed
    assert sorted(p.name for p in (tmp_path / "a" / "pseudo").iterdir()) == ["labels", "quality.json"]
    assert q["overall_precision"] == 100.0 and 0 < q["overall_coverage"] < 100 and q["images"] == 3
    label = np.array(Image.open(next((tmp_path / "a" / "pseudo" / "labels").rglob("*.png"))))
    assert (label[:, -3:] == 255).all() and (label[:, :-3] != 255).all()
    shared, n = tmp_path / "teacher-pool", len(calls)
    for run in ("b", "c"):                                                         # two runs, one teacher
        make_pseudo_labels(Blocks(), pool(cityscapes_root), tmp_path / run / "pseudo", torch.device("cpu"),
                           mode="confidence", threshold=0.9, flip=False, predictions=shared)
    assert len(calls) == 2 * n and (shared / "hist.npy").exists()                 # predicted once, kept
    for run in ("b", "c"):
        assert sorted(p.name for p in (tmp_path / run / "pseudo" / "labels").rglob("*.png")) == \
            sorted(p.name for p in (tmp_path / "a" / "pseudo" / "labels").rglob("*.png"))


def test_class_thresholds_modes():
    hist = np.zeros((NUM_CLASSES, 256), np.int64)
    hist[0, 200:] = 1
    assert np.allclose(class_thresholds(hist, "confidence", threshold=0.7), 0.7)
    cbst = class_thresholds(hist, "cbst", portion=0.5)
    assert abs(cbst[0] - 227 / 255) < 0.01 and cbst[1] == 1.0                     # absent class: nothing kept
    assert class_thresholds(hist, "bdl", threshold=0.8)[0] == 0.8
