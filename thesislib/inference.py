"""Prediction with a segmentation model: softmax probabilities (pseudo-labels), whole-image predictions at
the labels' resolution (scoring, `thesislib predict`), and the batches both read. Scoring itself is
thesislib.runs.scoring; this module never scores, so a change of the metrics leaves every model it made valid.

The evaluation protocol, the same for every profile and table: each whole image is predicted at the
profile's working resolution (`image_hw`), the logits are upsampled (bilinear) to the resolution of its
label file, and the prediction is scored there; labels are never resized (Cityscapes: 2048x1024, as
the official evaluator and the published numbers score them).
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from thesislib.data.transforms import image_to_float, to_model

PROTOCOL = "whole image at the working resolution, logits upsampled to the label resolution"


def precision_of(device: torch.device, amp: bool = True) -> str:
    """The precision a device computes at: bf16 autocast on CUDA (the engine's fast path), fp32 elsewhere."""
    return "bf16" if torch.device(device).type == "cuda" and amp else "fp32"


def autocast(precision: str):
    """The autocast context of a precision ("bf16": CUDA bf16 autocast; "fp32": none)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def on_device(model, device: torch.device):
    """`model` on `device` in eval mode, channels_last on CUDA (the layout bf16 convolutions are fast in)."""
    model = model.to(device).eval()
    return model.to(memory_format=torch.channels_last) if torch.device(device).type == "cuda" else model


@torch.no_grad()
def predict_probs(model, images: torch.Tensor, flip: bool = False, precision: str = "fp32") -> torch.Tensor:
    """Softmax probabilities (B, C, H, W) of images (uint8, or float in [0, 1]); `flip` averages with the
    horizontally flipped prediction."""
    images = image_to_float(images)
    with autocast(precision):
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
    """Items of `dataset` in order, as (images on `device`, list of masks on `device`, names); on CUDA from
    pinned memory, the images channels_last."""
    cuda = torch.device(device).type == "cuda"
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_collate,
                        pin_memory=cuda)
    for b in loader:
        images = to_model({"image": b["image"]}, device, channels_last=cuda)["image"]
        yield images, [m.to(device, non_blocking=True) for m in b["mask"]], b["name"]


@torch.no_grad()
def predict_full(model, images: torch.Tensor, sizes, flip: bool = False, precision: str = "fp32") -> list[torch.Tensor]:
    """Train-id predictions of a batch, one (H, W) map per image at its size in `sizes` (see PROTOCOL)."""
    with autocast(precision):
        logits = model(images).float()
        if flip:
            logits = 0.5 * (logits + model(images.flip(-1)).float().flip(-1))
    # argmax over the last, contiguous dimension: the same classes, twice as fast as over the first on a CPU
    return [upsample(lg[None], hw)[0].permute(1, 2, 0).contiguous().argmax(-1) for lg, hw in zip(logits, sizes)]
