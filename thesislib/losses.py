"""Losses: supervised and pseudo-label cross-entropy, GAN/cycle/identity (CycleGAN),
entropy (ADVENT) and class-balancing weights."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def segmentation_ce(logits, target, class_weights=None, ignore_index: int = 255) -> torch.Tensor:
    """Cross-entropy (N, C, H, W) vs (N, H, W) labels: F.cross_entropy(weight=class_weights),
    but 0 instead of NaN when every pixel is ignored."""
    return pseudo_label_ce(logits, target, class_weights=class_weights, ignore_index=ignore_index)


def pseudo_label_ce(logits, target, pixel_weight=None, class_weights=None, ignore_index: int = 255) -> torch.Tensor:
    """Cross-entropy on pseudo-labels, pixel i weighted by pixel_weight[i] * class_weights[target[i]].

    Weighted mean sum(w * ce) / sum(w) over non-ignored pixels (as F.cross_entropy does for
    class weights); 0 (still differentiable) when no pixel is kept.
    """
    valid = target != ignore_index
    labels = target.masked_fill(~valid, 0)
    ce = F.cross_entropy(logits, labels, reduction="none")
    weight = valid.to(ce.dtype)
    if pixel_weight is not None:
        weight = weight * pixel_weight
    if class_weights is not None:
        weight = weight * class_weights[labels]
    return (weight * ce).sum() / weight.sum().clamp_min(1e-12)


class GANLoss(nn.Module):
    """loss(pred, target_is_real): MSE to 1/0 ("lsgan", CycleGAN) or BCE with logits ("vanilla")."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode == "lsgan":
            self.loss = nn.MSELoss()
        elif mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"GAN mode must be 'lsgan' or 'vanilla', not {mode!r}")
        self.mode = mode

    def forward(self, pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.full_like(pred, 1.0 if target_is_real else 0.0)
        return self.loss(pred, target)


def cycle_loss(rec: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Cycle-consistency loss ||G_BA(G_AB(a)) - a||_1 (mean)."""
    return F.l1_loss(rec, real)


def identity_loss(idt: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Identity loss ||G_AB(b) - b||_1 (mean)."""
    return F.l1_loss(idt, real)


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """ADVENT's entropy minimisation: mean pixel entropy of softmax(logits) divided by log C (in [0, 1])."""
    log_p = F.log_softmax(logits, dim=1)
    entropy = -(log_p.exp() * log_p).sum(dim=1)
    return entropy.mean() / math.log(logits.shape[1])


def class_weights(pixel_counts, method: str = "inv_sqrt", max_weight: float = 10.0) -> torch.Tensor:
    """Class-balancing weights from per-class pixel counts, normalised to mean 1.

    "inv_sqrt": 1/sqrt(freq); "median_freq": median(freq)/freq (Eigen & Fergus), the median
    over classes present. Weights are capped at `max_weight` times the smallest (most frequent
    class's) weight before normalising; classes with no pixels get the cap.
    """
    counts = torch.as_tensor(pixel_counts, dtype=torch.float64)
    present = counts > 0
    if not present.any():
        return torch.ones(counts.shape, dtype=torch.float32)
    freq = counts[present] / counts.sum()
    if method == "inv_sqrt":
        raw = freq.rsqrt()
    elif method == "median_freq":
        raw = freq.median() / freq
    else:
        raise ValueError(f"method must be 'inv_sqrt' or 'median_freq', not {method!r}")
    weights = torch.full_like(counts, max_weight)
    weights[present] = (raw / raw.min()).clamp(max=max_weight)
    return (weights / weights.mean()).float()
