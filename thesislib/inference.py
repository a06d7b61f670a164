"""Prediction and evaluation of a segmentation model on a dataset."""
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from thesislib.metrics import ConfusionMatrix


@torch.no_grad()
def predict_probs(model, images: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """Softmax probabilities (B, C, H, W); `flip` averages with the horizontally flipped prediction."""
    probs = F.softmax(model(images).float(), dim=1)
    if flip:
        probs = 0.5 * (probs + F.softmax(model(images.flip(-1)).float(), dim=1).flip(-1))
    return probs


def batches(dataset, batch_size: int, device: torch.device):
    """Items of `dataset` in order, as device batches (images, masks, names)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    for b in loader:
        yield b["image"].to(device), b["mask"].to(device), b["name"]


@torch.no_grad()
def evaluate(model, dataset, device, batch_size: int = 16, flip: bool = False, autocast: bool = False) -> dict:
    """Target metrics in percent: mIoU, pixel accuracy, per-class IoU (see ConfusionMatrix.summary)."""
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix()
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if autocast and device.type == "cuda" else torch.no_grad()
    with ctx:
        for images, masks, _ in batches(dataset, batch_size, device):
            cm.update(predict_probs(model, images, flip).argmax(1), masks)
    model.train(was_training)
    return {**cm.summary(), "eval_images": len(dataset), "eval_hw": list(next(iter(dataset))["mask"].shape)}
