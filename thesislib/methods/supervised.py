"""Supervised training: source-only, target-only (oracle, or a labeled target fraction), translated source
and labeled target images trained jointly (S+T), or a model fine-tuned on labeled target images."""
from pathlib import Path

from thesislib.data.stream import step_loader
from thesislib.engine import Engine
from thesislib.losses import class_weights as weights_from_counts
from thesislib.methods.common import (SegMethod, engine_config, item_class_counts, load_seg_weights, rare_class_weights,
                                      source_set, subset_fraction, target_set)
from thesislib.profiles import Profile, loader_workers

SOURCES = ("gta5", "cityscapes", "joint")


class Supervised(SegMethod):
    """Per-pixel (weighted) cross-entropy on labeled batches."""

    def training_step(self, batch, engine):
        with engine.autocast():
            logits = self.modules["seg"](batch["image"])
        streams = {}
        loss = self.supervised_loss(logits, batch, streams)
        loss.backward()
        engine.step(self, "seg")
        return {"loss": loss, **streams}


def train_supervised(data_root, out, profile: Profile, seed: int = 0, source: str = "gta5",
                     source_root=None, fraction: float = 1.0, class_weighting: bool | None = None,
                     rare_class_sampling: bool = False, steps: int | None = None, init=None,
                     **engine_overrides) -> dict:
    """Train DeepLabV3+ on labeled images for `steps` (the profile's) batches of `batch_size`.

    source: "gta5" (the synthetic set, or `source_root` for e.g. a translated copy in the GTA5 layout),
    "cityscapes" (target-train labels: the oracle; `fraction` < 1 keeps a fixed subset, the same for every
    method) or "joint" (S+T: `batch_size` source images and `batch_size` images of the labeled target
    fraction in every batch, the loss averaged per stream, so the target labels are seen as often as by
    the "cityscapes" run). init: a finished run's checkpoint to fine-tune (e.g. the translated-source model).
    """
    data_root = Path(data_root)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    src_root = Path(source_root or data_root / "gta5")
    streams, counts, stats = [], [], []
    if source in ("gta5", "joint"):
        streams.append(source_set(src_root, profile))
        stats.append(src_root)
    if source in ("cityscapes", "joint"):
        streams.append(subset_fraction(target_set(data_root, profile, "train", train=True), fraction))
        stats.append(data_root / "cityscapes")
    counts = [profile.batch_size] * len(streams)
    if class_weighting is None:
        class_weighting = profile.class_weighting
    weights = None
    if class_weighting:                      # balanced over every labeled pixel the run learns from
        weights = weights_from_counts(sum(item_class_counts(d, r).sum(0) for d, r in zip(streams, stats)))
    steps = steps or profile.steps
    engine = Engine(out, engine_config(profile, steps, seed, **engine_overrides))
    method = Supervised(profile, class_weights=weights, stream_counts=counts if len(streams) > 1 else None)
    if init:
        load_seg_weights(method.modules["seg"], init)
    sample_w = [rare_class_weights(streams[0], stats[0])] + [None] * (len(streams) - 1) if rare_class_sampling else None
    loader = step_loader(streams, counts, seed, steps, weights=sample_w, num_workers=loader_workers(profile))
    config = {"method": "supervised", "profile": profile.name, "source": source, "source_root": str(source_root),
              "fraction": fraction, "class_weighting": class_weighting, "rare_class_sampling": rare_class_sampling,
              "init": init and str(init)}
    return engine.fit(method, loader, config)
