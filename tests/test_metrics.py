import re

import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs_eval
from cityscapesscripts.helpers.labels import trainId2label

from thesislib.data.labels import NUM_CLASSES
from thesislib.metrics import ConfusionMatrix


def _official_ious(preds, gts):
    """IoU per train class with the official Cityscapes evaluation's own functions."""
    args = cs_eval.args
    args.evalInstLevelScore = False
    args.quiet = True
    conf = cs_eval.generateMatrix(args)
    for p, g in zip(preds, gts):
        # the official code works on label ids: map train ids (255 = ignore) to ids
        to_id = np.vectorize(lambda t: trainId2label[t].id if t in trainId2label and t < NUM_CLASSES else 0)
        conf_p, conf_g = to_id(p), to_id(g)
        for gid, pid in zip(conf_g.ravel(), conf_p.ravel()):
            conf[gid][pid] += 1
    ious = {}
    for t in range(NUM_CLASSES):
        label = trainId2label[t]
        ious[label.name] = cs_eval.getIouScoreForLabel(label.id, conf, args)
    return ious, conf


def test_matches_official_cityscapes_evaluation():
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for _ in range(3):
        gt = rng.integers(0, NUM_CLASSES, size=(12, 16))
        gt[rng.random(gt.shape) < 0.2] = 255                  # ignored pixels
        gt[gt == 16] = 5                                      # one class absent from the ground truth
        pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, NUM_CLASSES, size=gt.shape))
        pred[pred == 255] = 0
        preds.append(pred)
        gts.append(gt)
    cm = ConfusionMatrix()
    for p, g in zip(preds, gts):
        cm.update(torch.from_numpy(p), torch.from_numpy(g))
    ours = cm.compute()
    official, conf = _official_ious(preds, gts)
    for t, name in enumerate(official):
        if np.isnan(official[name]):
            assert np.isnan(ours["iou"][t]), name
        else:
            assert ours["iou"][t] == pytest.approx(official[name], abs=1e-6), name
    official_miou = np.nanmean([v for v in official.values()])
    assert ours["miou"] == pytest.approx(official_miou, abs=1e-6)


def test_absent_class_is_nan_and_left_out_of_mean():
    cm = ConfusionMatrix(num_classes=3)
    cm.update(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 255]))
    r = cm.compute()
    assert np.isnan(r["iou"][2])
    assert r["iou"][0] == pytest.approx(0.5) and r["iou"][1] == pytest.approx(0.5)
    assert r["miou"] == pytest.approx(0.5)
    assert r["pixel_accuracy"] == pytest.approx(2 / 3)


def test_ignore_index_is_not_counted_and_shapes_checked():
    cm = ConfusionMatrix(num_classes=2)
    cm.update(torch.tensor([[1, 1]]), torch.tensor([[255, 255]]))
    assert cm.matrix.sum() == 0
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.zeros(2, 2), torch.zeros(2, 3))


@pytest.mark.parametrize("pred, gt, what", [(19, 0, "prediction holds value(s) [19]"),
                                            (-1, 0, "prediction holds value(s) [-1]"),
                                            (0, 19, "ground truth holds value(s) [19]")])
def test_values_outside_the_train_ids_are_refused(pred, gt, what):
    cm = ConfusionMatrix()
    p, g = torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)
    p[0, 0], g[0, 0] = pred, gt
    g[1, 1] = 255                                            # the ignore index itself is fine
    with pytest.raises(ValueError, match=re.escape(what)):
        cm.update(p, g)
    assert cm.matrix.sum() == 0
    cm.update(torch.zeros(2, 3, dtype=torch.long), g.clamp(max=18).masked_fill(g == 255, 255))
    assert cm.matrix.sum() == 5
