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
    """Cross-entropy on (pseudo-)labels: sum(pixel_weight * class_weight * ce) / sum(class_weight) over the
    non-ignored pixels (F.cross_entropy's weighted mean when `pixel_weight` is 1, so a per-image confidence
    weight scales the loss, as DACS / DAFormer do); 0 (still differentiable) when no pixel is kept."""
    valid = target != ignore_index
    labels = target.masked_fill(~valid, 0)
    ce = F.cross_entropy(logits, labels, reduction="none")
    weight = valid.to(ce.dtype)
    if class_weights is not None:
        weight = weight * class_weights[labels]
    norm = weight.sum().clamp_min(1e-12)
    if pixel_weight is not None:
        weight = weight * pixel_weight
    return (weight * ce).sum() / norm


def stream_ce(logits, target, counts, pixel_weight=None, class_weights=None, shares=None) -> tuple[torch.Tensor, list]:
    """The loss of a batch drawn from several streams, `counts[d]` items of stream d in order (how
    `data.stream.step_loader` builds it): sum_d shares[d] * (stream d's `pseudo_label_ce`), by default
    shares[d] = counts[d] / batch, so each stream carries the share of the loss its share of the batch says,
    however many of its pixels are ignored (self-training gives its pseudo-labeled stream a weight of its own).
    `class_weights`: one tensor for every stream, or a list of one (or None) per stream. Returns
    (loss, [each stream's loss, None for an empty one]); the batch is split by count, never by a mask (no
    host sync)."""
    total, parts, start, loss = sum(counts), [], 0, 0.0
    shares = shares or [n / total for n in counts]
    per_stream = class_weights if isinstance(class_weights, (list, tuple)) else [class_weights] * len(counts)
    for n, cw, share in zip(counts, per_stream, shares):
        if n == 0:
            parts.append(None)
            continue
        part = slice(start, start + n)
        w = None if pixel_weight is None else pixel_weight[part]
        parts.append(pseudo_label_ce(logits[part], target[part], w, cw))
        loss = loss + share * parts[-1]
        start += n
    return loss, parts


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
