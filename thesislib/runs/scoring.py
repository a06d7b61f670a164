"""Scoring, a stage of its own: a model's per-class IoU, mIoU and pixel accuracy on a labeled set
(thesislib.metrics), under the evaluation protocol of thesislib.inference. Training never scores, so a
change here re-scores every model without retraining one."""
import torch

from thesislib.inference import PROTOCOL, batches, on_device, predict_full
from thesislib.metrics import ConfusionMatrix


@torch.no_grad()
def evaluate(model, dataset, device, batch_size: int = 16, flip: bool = False, precision: str = "fp32",
             num_workers: int = 0) -> dict:
    """Target metrics in percent: mIoU, pixel accuracy, per-class IoU (see ConfusionMatrix.summary),
    scored at each label's own resolution (see PROTOCOL), predicted at `precision` (one for every score of
    a model: `inference.precision_of`); `num_workers` loader processes decode."""
    was_training = model.training
    model = on_device(model, device)
    cm = ConfusionMatrix()
    label_hw = input_hw = None
    for images, masks, _ in batches(dataset, batch_size, device, num_workers):
        for pred, mask in zip(predict_full(model, images, [m.shape for m in masks], flip, precision), masks):
            cm.update(pred, mask)
        label_hw = label_hw or list(masks[0].shape)
        input_hw = list(images.shape[-2:])
    model.train(was_training)
    return {**cm.summary(), "eval_images": len(dataset), "eval_hw": label_hw, "input_hw": input_hw,
            "protocol": PROTOCOL, "precision": precision}
