"""The thesis' method: a synthetic teacher pseudo-labels real images; a noised student learns from
adapted synthetic + pseudo-labeled real data, the real share rising round after round; the student
becomes the next teacher (Noisy Student on top of CycleGAN-translated source data)."""
import json
from pathlib import Path

from torch.utils.data import ConcatDataset

from thesislib.cache import locked
from thesislib.data.common import PseudoLabeled
from thesislib.data.stream import step_loader
from thesislib.engine import CHECKPOINT, Engine
from thesislib.io import atomic_write_json
from thesislib.methods.common import (class_weights_for, engine_config, load_seg_weights, rare_class_weights,
                                      source_set, subset_fraction, target_set, val_set)
from thesislib.methods.supervised import Supervised, train_supervised
from thesislib.models.segmentation import build_segmenter
from thesislib.profiles import Profile
from thesislib.pseudo import make_pseudo_labels

POOL_SPLITS = {"train": ("train",), "train+extra": ("train", "train_extra")}


def load_segmenter(checkpoint, profile: Profile, device):
    model = build_segmenter(profile.encoder, decoder_channels=profile.decoder_channels)
    return load_seg_weights(model, checkpoint).to(device).eval()


def train_self_training(data_root, out, profile: Profile, seed: int = 0, source_root=None, teacher=None,
                        rounds: int | None = None, real_share=None, thresholds: str = "cbst",
                        threshold: float = 0.9, portions=(0.3, 0.45, 0.6), flip: bool = True, noise: bool = True,
                        dropout: float = 0.1, drop_path: float = 0.1, class_weighting: bool | None = None,
                        rare_class_sampling: bool = False, labeled_fraction: float = 0.0, labeled_share: float = 0.5,
                        pool: str | None = None, student_init: str = "teacher",
                        steps: int | None = None, **engine_overrides) -> dict:
    """Run K rounds of teacher -> pseudo-labels -> noised student; returns per-round metrics.

    teacher: a checkpoint; None trains one on `source_root` (translated source) in out/round0.
    real_share[k]: share of pseudo-labeled real images in round k's batches (rising).
    thresholds: "cbst" (class-balanced: keep the most confident portions[k] of each class's predicted
    pixels in round k, so rare classes get pseudo-labels too), "confidence" (keep pixels with confidence
    >= `threshold`: frequent classes only, measured in the README) or "bdl" (per-class median, capped).
    class_weighting / rare_class_sampling: class-imbalance compensation (class-weighted CE from the
    source statistics; None: the profile's class_weighting; DAFormer-style rare-class sampling of source images).
    pool: target splits to pseudo-label, "train" or "train+extra" (default: the profile's st_pool).
    labeled_fraction: > 0 gives that fraction of target-train images their true labels (SSL setting);
    they also form a third stream taking `labeled_share` of every batch, so a few labels are not
    diluted among the pseudo-labeled images.
    student_init: "teacher" (fine-tune the teacher, the CPU-budget choice) or "scratch" (Noisy Student).
    """
    data_root, out = Path(data_root), Path(out)
    source_root = Path(source_root or data_root / "gta5")
    rounds = rounds or profile.st_rounds
    pool = pool or profile.st_pool
    if pool not in POOL_SPLITS:
        raise ValueError(f"pool must be one of {sorted(POOL_SPLITS)}, got {pool!r}")
    real_share = tuple(real_share or profile.st_real_share)
    if len(real_share) < rounds:
        raise ValueError(f"real_share needs one value per round ({rounds}), got {real_share}")
    if labeled_fraction > 0 and max(real_share[:rounds]) + labeled_share > 1:
        raise ValueError(f"real_share {real_share[:rounds]} + labeled_share {labeled_share} exceed 1 batch: "
                         "lower labeled_share or real_share")
    if class_weighting is None:
        class_weighting = profile.class_weighting
    device = Engine(out, engine_config(profile, 1, seed, **engine_overrides)).device
    if teacher is None:
        train_supervised(data_root, out / "round0", profile, seed, source_root=source_root, **engine_overrides)
        teacher = out / "round0" / CHECKPOINT
    pool_sets = [target_set(data_root, profile, s) for s in POOL_SPLITS[pool]]
    gt_names, labeled, n_labeled = set(), [], []    # the labeled images: true labels, and a stream of their own
    if labeled_fraction > 0:
        split = target_set(data_root, profile, POOL_SPLITS[pool][0], train=True, strong=noise)
        subset = subset_fraction(split, labeled_fraction)
        gt_names = {split.names[i] for i in getattr(subset, "indices", range(len(split)))}
        labeled, n_labeled = [subset], [round(labeled_share * profile.batch_size)]
    val = val_set(data_root, profile)
    source = source_set(source_root, profile, strong=noise)
    history = []
    for k in range(1, rounds + 1):
        rd = out / f"round{k}"
        # a teacher from outside this run (the translated-source model) is shared by the runs of the
        # labeled fractions: its predictions on the pool are kept beside it and computed once
        shared = None if Path(teacher).parent.is_relative_to(out) else Path(teacher).parent / f"pool-{pool}-flip{flip:d}"
        with locked(shared or rd):
            quality = make_pseudo_labels(load_segmenter(teacher, profile, device), ConcatDataset(pool_sets),
                                         rd / "pseudo", device, mode=thresholds, portion=portions[min(k, len(portions)) - 1],
                                         threshold=threshold, flip=flip, ground_truth=gt_names, predictions=shared,
                                         num_workers=profile.num_workers)
        real = ConcatDataset([PseudoLabeled(target_set(data_root, profile, s, train=True, strong=noise), rd / "pseudo" / "labels")
                              for s in POOL_SPLITS[pool]])
        n_real = round(real_share[k - 1] * profile.batch_size)
        n_source = max(0, profile.batch_size - n_real - sum(n_labeled))
        n_steps = steps or profile.st_steps
        engine = Engine(rd, engine_config(profile, n_steps, seed + k, **engine_overrides))
        method = Supervised(profile, val, dropout=dropout if noise else 0.0, drop_path=drop_path if noise else 0.0,
                            class_weights=class_weights_for(source, source_root, class_weighting))
        if student_init == "teacher":
            load_seg_weights(method.modules["seg"], teacher)
        weights = None
        if rare_class_sampling:                   # rare-class sampling of the source stream only
            weights = [rare_class_weights(source, source_root), None] + [None] * len(labeled)
        loader = step_loader([source, real, *labeled], [n_source, n_real, *n_labeled], seed + k, n_steps,
                             weights=weights, num_workers=profile.num_workers)
        config = {"method": "self_training", "round": k, "profile": profile.name, "teacher": str(teacher),
                  "real_share": real_share[k - 1], "thresholds": thresholds, "threshold": threshold, "noise": noise,
                  "student_init": student_init, "class_weighting": class_weighting,
                  "rare_class_sampling": rare_class_sampling, "labeled_fraction": labeled_fraction,
                  "labeled_share": labeled_share, "pool": pool}
        metrics = engine.fit(method, loader, config)
        history.append({"round": k, "real_share": real_share[k - 1], "val": metrics["val"],
                        "pseudo_labels": quality, "train_seconds": metrics["train_seconds"]})
        teacher = rd / CHECKPOINT
    teacher0 = json.loads((out / "round0" / "metrics.json").read_text())["val"] if (out / "round0" / "metrics.json").exists() else None
    summary = {"method": "self_training", "seed": seed, "teacher_val": teacher0, "rounds": history,
               "val": history[-1]["val"]}
    atomic_write_json(out / "metrics.json", summary)
    return summary
