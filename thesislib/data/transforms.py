"""Joint image/mask transforms (torchvision v2) for training; evaluation uses none (`transform=None`).

Inputs are dicts of tv_tensors: an Image (uint8), a Mask (train ids) and optionally a WeightMap;
geometric transforms move them together. Loaders finish every item with `to_dtypes` (image float32
in [0, 1], mask int64), so the eval path needs no transform at all.
"""
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from thesislib.data.labels import IGNORE_INDEX


class WeightMap(tv_tensors.Mask):
    """A per-pixel loss weight: moves like a mask (nearest resampling) but pads with 0, not 255."""


FILL = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX, "others": 0}   # WeightMap -> "others"
to_dtypes = v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True)


def _odd(n: int) -> int:
    return max(3, n // 2 * 2 + 1)


def train_transform(size, scale=(0.75, 1.5), flip=True, strong=False, crop=None) -> v2.Compose:
    """Random scale in `scale` (relative to `size`), random crop back to `size` = (h, w), or to `crop`
    when given (padding: image 0, mask 255, weight 0), horizontal flip; `strong` adds the noisy-student
    input noise (colour jitter, Gaussian blur, random grayscale) to the image only."""
    h, w = size
    steps = [v2.ScaleJitter((w, h), scale_range=scale, antialias=True),   # ScaleJitter takes (w, h)
             v2.RandomCrop(tuple(crop or size), pad_if_needed=True, fill=FILL)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if strong:
        steps += [v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                  v2.RandomApply([v2.GaussianBlur(_odd(min(h, w) // 10), sigma=(0.1, 2.0))], p=0.5),
                  v2.RandomGrayscale(p=0.2)]
    return v2.Compose([*steps, to_dtypes])
