"""Prediction and evaluation of a segmentation model on a dataset.

The evaluation protocol, the same for every profile and table: each whole image is predicted at the
profile's working resolution (`image_hw`), the logits are upsampled (bilinear) to the resolution of its
label file, and the prediction is scored there; labels are never resized (Cityscapes: 2048x1024, as
the official evaluator and the published numbers score them).
"""
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from thesislib.metrics import ConfusionMatrix

PROTOCOL = "whole image at the working resolution, logits upsampled to the label resolution"


@torch.no_grad()
def predict_probs(model, images: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """Softmax probabilities (B, C, H, W); `flip` averages with the horizontally flipped prediction."""
    probs = F.softmax(model(images).float(), dim=1)
    if flip:
        probs = 0.5 * (probs + F.softmax(model(images.flip(-1)).float(), dim=1).flip(-1))
    return probs


def upsample(logits: torch.Tensor, hw) -> torch.Tensor:
    """(B, C, h, w) logits resized bilinearly to `hw` = (H, W) (unchanged when already that size)."""
    hw = tuple(hw)
    return logits if tuple(logits.shape[-2:]) == hw else F.interpolate(logits, size=hw, mode="bilinear",
                                                                       align_corners=False)


def _collate(items: list[dict]) -> dict:
    """Images stacked (one working resolution); masks kept as a list (each at its label's resolution)."""
    return {"image": torch.stack([it["image"] for it in items]), "mask": [it["mask"] for it in items],
            "name": [it["name"] for it in items]}


def batches(dataset, batch_size: int, device: torch.device, num_workers: int = 0):
    """Items of `dataset` in order, as (images on `device`, list of masks on `device`, names)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_collate)
    for b in loader:
        yield b["image"].to(device), [m.to(device) for m in b["mask"]], b["name"]


@torch.no_grad()
def predict_full(model, images: torch.Tensor, sizes, flip: bool = False) -> list[torch.Tensor]:
    """Train-id predictions of a batch, one (H, W) map per image at its size in `sizes` (see PROTOCOL)."""
    logits = model(images).float()
    if flip:
        logits = 0.5 * (logits + model(images.flip(-1)).float().flip(-1))
    # argmax over the last, contiguous dimension: the same classes, twice as fast as over the first on a CPU
    return [upsample(lg[None], hw)[0].permute(1, 2, 0).contiguous().argmax(-1) for lg, hw in zip(logits, sizes)]


@torch.no_grad()
def evaluate(model, dataset, device, batch_size: int = 16, flip: bool = False, autocast: bool = False,
             num_workers: int = 0) -> dict:
    """Target metrics in percent: mIoU, pixel accuracy, per-class IoU (see ConfusionMatrix.summary),
    scored at each label's own resolution (see PROTOCOL); `num_workers` loader processes decode."""
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix()
    label_hw = None
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if autocast and device.type == "cuda" else torch.no_grad()
    with ctx:
        for images, masks, _ in batches(dataset, batch_size, device, num_workers):
            for pred, mask in zip(predict_full(model, images, [m.shape for m in masks], flip), masks):
                cm.update(pred, mask)
            label_hw = label_hw or list(masks[0].shape)
            input_hw = list(images.shape[-2:])
    model.train(was_training)
    return {**cm.summary(), "eval_images": len(dataset), "eval_hw": label_hw, "input_hw": input_hw,
            "protocol": PROTOCOL}
