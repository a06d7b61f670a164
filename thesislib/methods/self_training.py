"""The thesis' method: a synthetic teacher pseudo-labels real images; a noised student learns from
adapted synthetic + pseudo-labeled real data, the real share rising round after round; the student
becomes the next teacher (Noisy Student on top of CycleGAN-translated source data).

Every option is a field of `SelfTraining` (a frozen dataclass: the stage cache keys a run by it); the
profile gives the budget (rounds, steps, real shares, pool). The same function trains the controls and
the semi-supervised variants of the data-dependency chapter: `real_share` 0 is the student training
without pseudo-labels, `labeled_fraction` > 0 gives some target images their true labels, `source=False`
drops the synthetic stream (target-only semi-supervised learning)."""
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from torch.utils.data import ConcatDataset

from thesislib.data.common import PseudoLabeled
from thesislib.data.stream import step_loader
from thesislib.engine import CHECKPOINT, Engine
from thesislib.inference import precision_of
from thesislib.io import atomic_write_json
from thesislib.methods.common import (class_weights_for, engine_config, load_seg_weights, load_segmenter,
                                      rare_class_weights, source_set, subset_fraction, target_set)
from thesislib.methods.supervised import Supervised
from thesislib.profiles import Profile, loader_workers
from thesislib.pseudo import make_pseudo_labels

POOL_SPLITS = {"train": ("train",), "train+extra": ("train", "train_extra")}


@dataclass(frozen=True)
class SelfTraining:
    """Self-training's options. None: the profile's value (`st_rounds`, `st_steps`, `st_real_share`,
    `st_pool`, `st_ignore_bottom`)."""
    rounds: int | None = None
    steps: int | None = None                  # student steps per round
    real_share: tuple[float, ...] | None = None   # share of pseudo-labeled images in round k's batches
    pool: str | None = None                   # target splits pseudo-labeled: train | train+extra
    # pseudo-labels (thesislib.pseudo)
    thresholds: str = "cbst"                  # cbst (class-balanced portions) | bdl | confidence | none
    portions: tuple[float, ...] = (0.3, 0.45, 0.6)   # cbst: share of each class's predicted pixels kept in round k
    threshold: float = 0.9                    # confidence: the global threshold; bdl: the cap
    floor: float = 0.0                        # no pseudo-label below this confidence
    image_weighting: bool = False             # DACS / DAFormer: an image's pseudo-labels weigh its confident share
    ignore_bottom: float | None = None        # share of the bottom rows never pseudo-labeled (the ego vehicle)
    flip: bool = True                         # the teacher predicts with horizontal-flip averaging
    true_labels: bool = False                 # a diagnostic: the true class on the selected pixels (a perfect teacher)
    # the student
    loss: str = "per_stream"                  # per_stream (each stream its batch share) | pooled (all pixels)
    class_weighting: str = "labeled"          # class-balanced CE in the student: labeled (the streams with true
                                              # labels: source, labeled target; not the pseudo-labels) | all | none
    noise: str = "scaled"                     # student input noise: scaled | simclr | none
    noise_all_streams: bool = False           # noise the source and labeled streams too (else pseudo-labeled only)
    dropout: float = 0.1
    drop_path: float = 0.1
    lr_factor: float = 1.0                    # student learning rate = profile.lr * lr_factor
    student_init: str = "teacher"             # teacher (fine-tune it) | scratch (Noisy Student's fresh student)
    rare_class_sampling: bool = False         # DAFormer's rare-class sampling of the source stream
    # labels (the data-dependency chapter)
    labeled_fraction: float = 0.0             # > 0: that fraction of the pool's first split keeps its true labels
    labeled_share: float = 0.5                # ... and fills this share of every batch as a stream of its own
    source: bool = True                       # False: no translated source stream (target-only SSL)

    def resolved(self, profile: Profile) -> "SelfTraining":
        """These options with the profile's values filled in, checked."""
        c = replace(self, rounds=self.rounds or profile.st_rounds, steps=self.steps or profile.st_steps,
                    real_share=tuple(self.real_share if self.real_share is not None else profile.st_real_share),
                    pool=self.pool or profile.st_pool,
                    ignore_bottom=profile.st_ignore_bottom if self.ignore_bottom is None else self.ignore_bottom)
        if c.pool not in POOL_SPLITS:
            raise ValueError(f"pool must be one of {sorted(POOL_SPLITS)}, got {c.pool!r}")
        if len(c.real_share) < c.rounds:
            raise ValueError(f"real_share needs one value per round ({c.rounds}), got {c.real_share}")
        labeled = c.labeled_share if c.labeled_fraction > 0 else 0.0
        if not 0 <= labeled < 1 or not all(0 <= r <= 1 for r in c.real_share):
            raise ValueError(f"labeled_share ({labeled}) must be in [0, 1) and every real_share in [0, 1], "
                             f"got {c.real_share}")
        if not c.source and not 0 < labeled < 1:
            raise ValueError("source=False (target-only) needs labeled_fraction > 0 and 0 < labeled_share < 1")
        if isinstance(c.class_weighting, bool):          # True / False: every stream / none
            c = replace(c, class_weighting="all" if c.class_weighting else "none")
        if c.class_weighting == "labeled" and c.loss != "per_stream":
            raise ValueError("class_weighting='labeled' weighs some streams only: it needs loss='per_stream'")
        for name, allowed in (("loss", ("per_stream", "pooled")), ("student_init", ("teacher", "scratch")),
                              ("class_weighting", ("labeled", "all", "none"))):
            if getattr(c, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(c, name)!r}")
        return c

    def batch(self, profile: Profile, k: int) -> tuple[int, int, int]:
        """(source, pseudo-labeled, labeled) items of a round-k batch: the labeled images take `labeled_share`
        of it, the pseudo-labeled ones `real_share[k]` of the rest (at least one for a positive share; all of
        the rest without a source stream)."""
        b = profile.batch_size
        n_labeled = round(self.labeled_share * b) if self.labeled_fraction > 0 else 0
        if not self.source:
            return 0, b - n_labeled, n_labeled
        share = self.real_share[k - 1]
        n_real = max(round(share * (b - n_labeled)), 1 if share > 0 else 0)   # a positive share: at least one image
        return b - n_real - n_labeled, n_real, n_labeled

    @classmethod
    def from_options(cls, options: dict) -> "SelfTraining":
        """`SelfTraining(**options)` with lists made tuples (JSON, the command line); a clear error for an
        unknown option."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown self-training option(s) {unknown}: valid are {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})


def train_self_training(data_root, out, profile: Profile, seed: int, source_root, teacher,
                        config: SelfTraining = SelfTraining(), predictions=None, **engine_overrides) -> dict:
    """Run `config.rounds` rounds of teacher -> pseudo-labels -> noised student; returns per-round metrics.

    source_root: the (translated) source set, GTA5 layout; teacher: the first teacher's checkpoint;
    predictions: a folder of that teacher's pool predictions (`pseudo.predict_pool`; computed there when
    missing, kept: the runs that share a teacher predict once), else they are computed and dropped."""
    data_root, out = Path(data_root), Path(out)
    source_root = Path(source_root or data_root / "gta5")
    c = config.resolved(profile)
    probe = Engine(out, engine_config(profile, 1, seed, **engine_overrides))
    device, precision = probe.device, precision_of(probe.device, probe.cfg.amp)
    splits = POOL_SPLITS[c.pool]
    crop_noise = c.noise if c.noise_all_streams else False
    gt_names, labeled = set(), []          # the labeled images: true labels, and a stream of their own
    if c.labeled_fraction > 0:
        split = target_set(data_root, profile, splits[0], train=True, strong=crop_noise)
        subset = subset_fraction(split, c.labeled_fraction)
        gt_names = {split.names[i] for i in getattr(subset, "indices", range(len(split)))}
        labeled = [subset]
    source = source_set(source_root, profile, strong=crop_noise)
    class_weights = class_weights_for(source, source_root, c.class_weighting != "none")
    history = []
    for k in range(1, c.rounds + 1):
        rd = out / f"round{k}"
        counts = c.batch(profile, k)
        quality, real = None, []
        if counts[1]:                      # the control (real share 0) trains without pseudo-labels
            pool = ConcatDataset([target_set(data_root, profile, s) for s in splits])
            quality = make_pseudo_labels(
                load_segmenter(teacher, profile, device), pool, rd / "pseudo", device, mode=c.thresholds,
                portion=c.portions[min(k, len(c.portions)) - 1], threshold=c.threshold, flip=c.flip,
                ground_truth=gt_names, predictions=predictions if k == 1 else None, num_workers=loader_workers(profile),
                floor=c.floor, bottom=c.ignore_bottom, image_weighting=c.image_weighting,
                class_weights=class_weights.tolist() if c.class_weighting == "all" else None, true_labels=c.true_labels,
                precision=precision)
            weights = rd / "pseudo" / "weights" if c.image_weighting else None
            real = [ConcatDataset([PseudoLabeled(target_set(data_root, profile, s, train=True, strong=c.noise),
                                                 rd / "pseudo" / "labels", weights) for s in splits])]
        streams = [source] * bool(counts[0]) + real + labeled
        n = [x for x in counts if x]
        engine = Engine(rd, engine_config(profile, c.steps, seed + k, **engine_overrides))
        weighted = [c.class_weighting == "all" or (c.class_weighting == "labeled" and kind != "pseudo")
                    for kind, x in zip(("source", "pseudo", "labeled"), counts) if x]
        method = Supervised(profile, lr=profile.lr * c.lr_factor, dropout=c.dropout, drop_path=c.drop_path,
                            class_weights=class_weights, stream_counts=n if c.loss == "per_stream" else None,
                            weighted_streams=weighted)
        if c.student_init == "teacher":
            load_seg_weights(method.modules["seg"], teacher)
        sample_w = None
        if c.rare_class_sampling and counts[0]:          # rare-class sampling of the source stream only
            sample_w = [rare_class_weights(source, source_root)] + [None] * (len(streams) - 1)
        loader = step_loader(streams, n, seed + k, c.steps, weights=sample_w, num_workers=loader_workers(profile))
        run_config = {"method": "self_training", "round": k, "profile": profile.name, "teacher": str(teacher),
                      "batch": dict(zip(("source", "pseudo", "labeled"), counts)), **_jsonable(asdict(c))}
        metrics = engine.fit(method, loader, run_config)
        history.append({"round": k, "real_share": c.real_share[k - 1], "batch": list(counts),
                        "pseudo_labels": quality, "train_seconds": metrics["train_seconds"]})
        teacher = rd / CHECKPOINT
    summary = {"method": "self_training", "seed": seed, "config": _jsonable(asdict(c)), "rounds": history,
               "train_seconds": round(sum(r["train_seconds"] for r in history), 2)}
    atomic_write_json(out / "metrics.json", summary)
    return summary


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
