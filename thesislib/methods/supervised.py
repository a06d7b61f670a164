"""Supervised training: source-only, target-only (oracle), a labeled target fraction, or a mix."""
from pathlib import Path

from thesislib.data.stream import step_loader
from thesislib.engine import Engine
from thesislib.methods.common import (SegMethod, class_weights_for, engine_config,
                                      rare_class_weights, source_set, subset_fraction, target_set, val_set)
from thesislib.profiles import Profile


class Supervised(SegMethod):
    """Per-pixel (weighted) cross-entropy on labeled batches."""

    def training_step(self, batch, engine):
        with engine.autocast():
            logits = self.modules["seg"](batch["image"])
        loss = self.supervised_loss(logits, batch)
        loss.backward()
        engine.step(self, "seg")
        return {"loss": loss}


def train_supervised(data_root, out, profile: Profile, seed: int = 0, source: str = "gta5",
                     source_root=None, fraction: float = 1.0, class_weighting: bool | None = None,
                     rare_class_sampling: bool = False, steps: int | None = None, **engine_overrides) -> dict:
    """Train DeepLabV3+ on one labeled set and evaluate it on target val.

    source: "gta5" (the synthetic set, or `source_root` for e.g. a translated copy in the GTA5
    layout) or "cityscapes" (target train labels: the oracle; `fraction` < 1 keeps a fixed subset).
    """
    data_root = Path(data_root)
    val = val_set(data_root, profile)
    if source == "cityscapes":
        stats_root = data_root / "cityscapes"
        train = subset_fraction(target_set(data_root, profile, "train", train=True), fraction)
    elif source == "gta5":
        stats_root = Path(source_root or data_root / "gta5")
        train = source_set(stats_root, profile)
    else:
        raise ValueError(f"source must be 'gta5' or 'cityscapes', got {source!r}")
    if class_weighting is None:
        class_weighting = profile.class_weighting
    engine = Engine(out, engine_config(profile, steps or profile.steps, seed, **engine_overrides))
    method = Supervised(profile, val, class_weights=class_weights_for(train, stats_root, class_weighting))
    steps = steps or profile.steps
    sample_w = [rare_class_weights(train, stats_root)] if rare_class_sampling else None
    loader = step_loader([train], [profile.batch_size], seed, steps, weights=sample_w, num_workers=profile.num_workers)
    config = {"method": "supervised", "profile": profile.name, "source": source, "source_root": str(source_root),
              "fraction": fraction, "class_weighting": class_weighting, "rare_class_sampling": rare_class_sampling}
    return engine.fit(method, loader, config)
