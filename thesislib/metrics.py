"""Confusion-matrix segmentation metrics: per-class IoU, mIoU, pixel accuracy (Cityscapes convention)."""
import numpy as np
import torch

from thesislib.data.labels import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES


class ConfusionMatrix:
    """Accumulates a (num_classes x num_classes) matrix, rows = ground truth, columns = prediction.

    A class absent from both ground truth and prediction has IoU NaN and is left out of the mean.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: `pred` and `target` are integer maps of the same shape (any device), with values
        in 0..num_classes-1 (target may also hold the ignore index); anything else is a ValueError."""
        if pred.shape != target.shape:
            raise ValueError(f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
        keep = target != self.ignore_index
        n = self.num_classes
        for name, values in (("prediction", pred), ("ground truth", target[keep])):
            bad = values[(values < 0) | (values >= n)]
            if bad.numel():
                raise ValueError(f"{name} holds value(s) {sorted(set(bad.unique().tolist()))[:5]} outside the "
                                 f"train ids 0..{n - 1}" + (f" and the ignore index {self.ignore_index}"
                                                           if name == "ground truth" else "")
                                 + ": map label ids to train ids (thesislib.data.labels.to_train_ids) first")
        codes = target[keep].long() * n + pred[keep].long()
        counts = torch.bincount(codes, minlength=n * n)[: n * n]
        self.matrix += counts.reshape(n, n).cpu()

    def compute(self) -> dict:
        """{'iou': per-class array, 'miou', 'pixel_accuracy', 'mean_accuracy'} as fractions in [0, 1]."""
        m = self.matrix.double().numpy()
        tp = np.diag(m)
        gt, pred = m.sum(1), m.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = tp / (gt + pred - tp)          # NaN where the class is absent from both
            acc = tp / gt
        total = m.sum()
        return {
            "iou": iou,
            "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
            "mean_accuracy": float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
        }

    def summary(self) -> dict:
        """JSON-ready percentages: mIoU, pixel accuracy, mean accuracy and per-class IoU by class name."""
        r = self.compute()
        pct = lambda v: None if np.isnan(v) else round(100 * float(v), 4)  # noqa: E731
        return {
            "miou": pct(r["miou"]),
            "pixel_accuracy": pct(r["pixel_accuracy"]),
            "mean_accuracy": pct(r["mean_accuracy"]),
            "iou": {name: pct(v) for name, v in zip(CLASS_NAMES, r["iou"])},
        }
