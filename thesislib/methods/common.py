"""What the segmentation methods share: datasets of a data root, the task model, its loss, two-domain training."""
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from thesislib.data.check import load_class_counts
from thesislib.data.cityscapes import Cityscapes
from thesislib.data.gta5 import GTA5
from thesislib.data.transforms import train_transform
from thesislib.engine import EngineConfig, Method
from thesislib.losses import class_weights as weights_from_counts
from thesislib.models.segmentation import build_segmenter
from thesislib.paths import check_file
from thesislib.profiles import Profile, loader_workers


def source_set(source_root, profile: Profile, train=True, strong=False, size=None, native_labels=False, crop=None):
    """A GTA5-layout set (GTA5, the embedded source, or a translated copy) at the profile resolution
    (`native_labels`: masks at the label files' own resolution, for evaluation; `crop`: training crops)."""
    size = size or profile.image_hw
    transform = train_transform(size, strong=strong, crop=crop or profile.crop_hw) if train else None
    return GTA5(source_root, size=size, cache_mb=profile.ram_cache_mb, transform=transform, native_labels=native_labels)


def target_set(data_root, profile: Profile, split: str, train=False, strong=False, size=None, native_labels=False,
               crop=None):
    size = size or profile.image_hw
    transform = train_transform(size, strong=strong, crop=crop or profile.crop_hw) if train else None
    return Cityscapes(Path(data_root) / "cityscapes", split, size=size, cache_mb=profile.ram_cache_mb, transform=transform,
                      native_labels=native_labels)


def subset_fraction(dataset, fraction: float, seed: int = 0):
    """A fixed random `fraction` of a labeled set (at least one image), the same for every method."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return dataset
    n = max(1, round(fraction * len(dataset)))
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, sorted(order[:n]))


def item_class_counts(dataset, stats_root) -> np.ndarray:
    """(items, 19) train-id pixel counts of a labeled set (or a Subset of one), from the check-data
    statistics of its root `stats_root` (a GTA5-layout root or a Cityscapes root)."""
    counts = load_class_counts(check_file(stats_root))
    base, index = (dataset.dataset, dataset.indices) if isinstance(dataset, Subset) else (dataset, range(len(dataset)))
    return np.stack([counts[base.names[i]] for i in index]).astype(np.float64)


def rare_class_weights(dataset, stats_root, temperature: float = 0.1) -> torch.Tensor:
    """Per-image sampling weights for rare-class sampling (DAFormer): pick a class with probability
    softmax((1 - freq) / T), then an image that contains it."""
    per_image = item_class_counts(dataset, stats_root)
    freq = per_image.sum(0) / per_image.sum()
    present = per_image > 0
    p_class = np.exp((1 - freq) / temperature) * present.any(0)
    p_class /= p_class.sum()
    w = (present * (p_class / np.maximum(present.sum(0), 1))).sum(1)
    return torch.as_tensor(w / w.sum(), dtype=torch.float64)


def engine_config(profile: Profile, steps: int, seed: int, **overrides) -> EngineConfig:
    return EngineConfig(**{"steps": steps, "seed": seed, "ckpt_every": profile.ckpt_every,
                           "num_workers": loader_workers(profile), "compile": profile.compile, **overrides})


class SegMethod(Method):
    """A method with one task model `seg` (DeepLabV3+) and its (class-weighted, per-stream) loss."""

    def __init__(self, profile: Profile, lr=None, dropout=0.0, drop_path=0.0, class_weights=None,
                 stream_counts=None, weighted_streams=None, stream_shares=None):
        self.profile = profile
        seg = build_segmenter(profile.encoder, encoder_weights=profile.encoder_weights,
                              decoder_channels=profile.decoder_channels, dropout=dropout, drop_path=drop_path)
        self.modules = {"seg": seg}
        # fused: one kernel per step for all parameters (CPU and CUDA), 7 % faster training steps on a 2-core CPU
        self.optimizers = {"seg": torch.optim.AdamW(seg.parameters(), lr=lr or profile.lr, weight_decay=1e-4, fused=True)}
        self.class_weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.stream_counts = stream_counts     # items per stream of a batch: the loss is averaged per stream
        self.weighted_streams = weighted_streams   # which streams the class weights apply to (default: all)
        self.stream_shares = stream_shares      # each stream's weight in the loss (default: its share of the batch)
        self.domain_counts = None               # a two-domain method's (source, target) items per batch

    def _class_weights_on(self, device):
        """The class weights on `device`, copied there once (not in every step)."""
        if self.class_weights is not None and self.class_weights.device != device:
            self.class_weights = self.class_weights.to(device)
        return self.class_weights

    def supervised_loss(self, logits, batch, streams: dict | None = None):
        """Class-weighted CE of a labeled batch (its per-pixel `weight`, when it has one); with `stream_counts`,
        per stream (`losses.stream_ce`, weighed by `stream_shares`), each stream's part put into `streams` (what
        the training step logs) when given."""
        from thesislib.losses import pseudo_label_ce, stream_ce
        cw = self._class_weights_on(logits.device)
        if self.stream_counts is None:
            return pseudo_label_ce(logits.float(), batch["mask"], pixel_weight=batch.get("weight"), class_weights=cw)
        if cw is not None and self.weighted_streams is not None:
            cw = [cw if w else None for w in self.weighted_streams]
        loss, parts = stream_ce(logits.float(), batch["mask"], self.stream_counts, batch.get("weight"), cw,
                                self.stream_shares)
        if streams is not None:
            streams.update({f"loss_stream{d}": p for d, p in enumerate(parts) if p is not None})
        return loss


def class_weights_for(dataset, stats_root, enabled: bool):
    """Class-balancing loss weights (inverse square-root frequency) of a labeled set's own pixels, or None."""
    return weights_from_counts(item_class_counts(dataset, stats_root).sum(0)) if enabled else None


def split_domains(batch: dict, counts) -> tuple[dict, dict]:
    """(source, target) parts of a two-domain batch: its first `counts[0]` items and the next `counts[1]`
    (data.stream builds every batch so, on every rank); sliced by count, never by a mask (no host sync)."""
    n = counts[0]
    return ({k: v[:n] for k, v in batch.items() if torch.is_tensor(v)},
            {k: v[n:n + counts[1]] for k, v in batch.items() if torch.is_tensor(v)})


def load_seg_weights(model, checkpoint):
    """`model` with the task-model weights of a finished run's checkpoint (e.g. the teacher's); returns it."""
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["modules"]["seg"])
    return model


def load_segmenter(checkpoint, profile: Profile, device):
    """The task model of a finished run's checkpoint, on `device`, in eval mode."""
    model = build_segmenter(profile.encoder, decoder_channels=profile.decoder_channels)
    return load_seg_weights(model, checkpoint).to(device).eval()


def fit_two_domain(make_method, data_root, out, profile: Profile, seed: int, config: dict,
                   source_root=None, steps: int | None = None, init=None, split_batch: bool = False,
                   **engine_overrides) -> dict:
    """Train a UDA method (`make_method()`, built after the engine seeded the RNG) on labeled source
    batches (class-balanced as the profile says) + unlabeled target-train batches: `batch_size` images of
    each, or half a batch of each with `split_batch` (AdaptSegNet's one-plus-one, at the cost of one
    supervised step). `init`: a checkpoint whose task model the method starts from (the translated-source
    teacher), else from scratch."""
    from thesislib.data.stream import step_loader
    from thesislib.engine import Engine
    src_root = Path(source_root or Path(data_root) / "gta5")
    src = source_set(src_root, profile)
    trg = target_set(data_root, profile, "train", train=True)
    steps = steps or profile.adapt_steps
    b = profile.batch_size
    sizes = [b // 2, b - b // 2] if split_batch else [b, b]
    loader = step_loader([src, trg], sizes, seed, steps, num_workers=loader_workers(profile))
    config = {"profile": profile.name, "source_root": str(source_root), "init": init and str(init),
              "batch_sizes": sizes, **config}
    engine = Engine(out, engine_config(profile, steps, seed, **engine_overrides))
    method = make_method()
    method.class_weights = class_weights_for(src, src_root, profile.class_weighting)
    method.domain_counts = sizes
    if init:
        load_seg_weights(method.modules["seg"], init)
    return engine.fit(method, loader, config)
