"""The thesis' method: a synthetic teacher pseudo-labels real images; a noised student learns from
adapted synthetic + pseudo-labeled real data, the real share rising round after round; the student
becomes the next teacher (Noisy Student on top of CycleGAN-translated source data).

Every option is a field of `SelfTraining` (a frozen dataclass: the stage cache keys a run by it); the
profile gives the budget (rounds, steps, real shares, pool). The same function trains the controls and
the semi-supervised variants of the data-dependency chapter: `real_share` 0 is the student training
without pseudo-labels, `labeled_fraction` > 0 gives some target images their true labels, `source=False`
drops the synthetic stream (target-only semi-supervised learning).

As the field runs it (DACS, DAFormer; CBST's fine-tuning): the labeled batch is the same in every round
and in the control, the pseudo-labeled images come on top with their own weight in the loss (the real
share, rising round after round), every student fine-tunes at its own rate with a warm-up, and every
(seed, round) draws its own batches."""
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
    real_share: tuple[float, ...] | None = None   # the pseudo-labeled stream's share of round k's loss (< 1)
    pool: str | None = None                   # target splits pseudo-labeled: train | train+extra
    pseudo_batch: int | None = None           # pseudo-labeled images per step, on top of the labeled batch
                                              # (None: the profile's batch_size)
    empty_stream: bool = False                # a control: the same batches, every pseudo-label ignored
    # pseudo-labels (thesislib.pseudo)
    thresholds: str = "cbst"                  # cbst (class-balanced portions) | bdl | confidence | none
    portions: tuple[float, ...] = (0.3, 0.45, 0.6)   # cbst: share of each class's predicted pixels kept in round k
    threshold: float = 0.9                    # confidence: the global threshold; bdl: the cap
    floor: float = 0.0                        # no pseudo-label below this confidence (on top of CBST's share)
    image_weighting: bool = False             # DACS / DAFormer: an image's pseudo-labels weigh its confident share
    ignore_bottom: float | None = None        # share of the bottom rows never pseudo-labeled (the ego vehicle)
    flip: bool = True                         # the teacher predicts with horizontal-flip averaging
    true_labels: bool = False                 # a diagnostic: the true class on the selected pixels (partial labels)
    # the student
    class_weighting: str = "labeled"          # class-balanced CE: labeled (the streams with true labels: source,
                                              # labeled target; not the pseudo-labels) | all | none
    noise: str = "scaled"                     # student input noise on the pseudo-labeled stream: scaled | simclr | none
    noise_all_streams: bool = False           # noise the source and labeled streams too
    dropout: float = 0.1
    drop_path: float = 0.1
    lr_factor: float = 0.2                    # a student fine-tunes at profile.lr * lr_factor (CBST: 1/16; measured)
    warmup: float = 0.1                       # share of a round's steps warming the rate up from 0
    student_init: str = "teacher"             # teacher (fine-tune it) | scratch (Noisy Student's fresh student)
    rare_class_sampling: bool = False         # DAFormer's rare-class sampling of the source stream
    # labels (the data-dependency chapter)
    labeled_fraction: float = 0.0             # > 0: that fraction of the pool's first split keeps its true labels
    labeled_share: float = 0.5                # ... and fills this share of the labeled batch as a stream of its own
    source: bool = True                       # False: no translated source stream (target-only SSL)

    def resolved(self, profile: Profile) -> "SelfTraining":
        """These options with the profile's values filled in, checked."""
        c = replace(self, rounds=self.rounds or profile.st_rounds, steps=self.steps or profile.st_steps,
                    real_share=tuple(self.real_share if self.real_share is not None else profile.st_real_share),
                    pool=self.pool or profile.st_pool, pseudo_batch=self.pseudo_batch or profile.batch_size,
                    ignore_bottom=profile.st_ignore_bottom if self.ignore_bottom is None else self.ignore_bottom)
        if c.pool not in POOL_SPLITS:
            raise ValueError(f"pool must be one of {sorted(POOL_SPLITS)}, got {c.pool!r}")
        if len(c.real_share) < c.rounds:
            raise ValueError(f"real_share needs one value per round ({c.rounds}), got {c.real_share}")
        labeled = c.labeled_share if c.labeled_fraction > 0 else 0.0
        if not 0 <= labeled < 1 or not all(0 <= r < 1 for r in c.real_share):
            raise ValueError(f"labeled_share ({labeled}) and every real_share must be in [0, 1), got {c.real_share}")
        if not c.source and not 0 < labeled < 1:
            raise ValueError("source=False (target-only) needs labeled_fraction > 0 and 0 < labeled_share < 1")
        if isinstance(c.class_weighting, bool):          # True / False: every stream / none
            c = replace(c, class_weighting="all" if c.class_weighting else "none")
        for name, allowed in (("student_init", ("teacher", "scratch")), ("class_weighting", ("labeled", "all", "none"))):
            if getattr(c, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(c, name)!r}")
        return c

    def batch(self, profile: Profile, k: int) -> tuple[int, int, int]:
        """(source, pseudo-labeled, labeled) items of a round-k batch: the labeled images take `labeled_share`
        of `batch_size`, the source images the rest (none without a source stream), whatever the real share;
        `pseudo_batch` pseudo-labeled images come on top in a round whose real share is positive. So
        self-training and its control (real share 0) see the same labeled images."""
        b = profile.batch_size
        n_labeled = round(self.labeled_share * b) if self.labeled_fraction > 0 else 0
        n_pseudo = (self.pseudo_batch or b) if self.real_share[k - 1] > 0 else 0
        return (b - n_labeled if self.source else 0), n_pseudo, n_labeled

    def shares(self, counts: tuple[int, int, int], k: int) -> list[float]:
        """Each non-empty stream's weight in round k's loss: the labeled streams their share of the labeled
        batch (together 1), the pseudo-labeled stream r / (1 - r), so that it carries the real share r of the
        loss (0 for the empty-stream control)."""
        r, labeled = self.real_share[k - 1], counts[0] + counts[2]
        pseudo = 0.0 if self.empty_stream else r / (1 - r)
        return [n / labeled if d != 1 else pseudo for d, n in enumerate(counts) if n]

    @classmethod
    def from_options(cls, options: dict) -> "SelfTraining":
        """`SelfTraining(**options)` with lists made tuples (JSON, the command line); a clear error for an
        unknown option."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown self-training option(s) {unknown}: valid are {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})


def round_seed(seed: int, k: int) -> int:
    """The engine and loader seed of round k: distinct for every (seed, round), so no round of one seed
    repeats another seed's batches."""
    return 1000 * seed + k


def train_self_training(data_root, out, profile: Profile, seed: int, source_root, teacher,
                        config: SelfTraining = SelfTraining(), predictions=None, **engine_overrides) -> dict:
    """Run `config.rounds` rounds of teacher -> pseudo-labels -> noised student; returns per-round metrics.

    source_root: the (translated) source set, GTA5 layout; teacher: the first teacher's checkpoint;
    predictions: a folder of that teacher's pool predictions (`pseudo.predict_pool`; computed there when
    missing, kept: the runs that share a teacher predict once), else they are computed and dropped."""
    data_root, out = Path(data_root), Path(out)
    source_root = Path(source_root or data_root / "gta5")
    c = config.resolved(profile)
    probe = Engine(out, engine_config(profile, 1, seed, **engine_overrides))        # the device and precision
    streams = _Streams(data_root, source_root, profile, c, predictions, probe.device,
                       precision_of(probe.device, probe.cfg.amp))
    history = []
    for k in range(1, c.rounds + 1):
        rd = out / f"round{k}"
        counts = c.batch(profile, k)
        data, quality = streams.of_round(k, counts, teacher, rd)
        engine = Engine(rd, engine_config(profile, c.steps, round_seed(seed, k), warmup=round(c.warmup * c.steps),
                                          **engine_overrides))
        student = Supervised(profile, lr=profile.lr * c.lr_factor, dropout=c.dropout, drop_path=c.drop_path,
                             class_weights=streams.class_weights, stream_counts=[n for n in counts if n],
                             weighted_streams=streams.weighted(counts), stream_shares=c.shares(counts, k))
        if c.student_init == "teacher":
            load_seg_weights(student.modules["seg"], teacher)
        loader = step_loader(data, [n for n in counts if n], round_seed(seed, k), c.steps,
                             weights=streams.sampling(data), num_workers=loader_workers(profile))
        run_config = {"method": "self_training", "round": k, "profile": profile.name, "teacher": str(teacher),
                      "batch": dict(zip(("source", "pseudo", "labeled"), counts)), **_jsonable(asdict(c))}
        metrics = engine.fit(student, loader, run_config)
        history.append({"round": k, "real_share": c.real_share[k - 1], "batch": list(counts),
                        "pseudo_labels": quality, "train_seconds": metrics["train_seconds"]})
        teacher = rd / CHECKPOINT
    summary = {"method": "self_training", "seed": seed, "config": _jsonable(asdict(c)), "rounds": history,
               "train_seconds": round(sum(r["train_seconds"] for r in history), 2)}
    atomic_write_json(out / "metrics.json", summary)
    return summary


class _Streams:
    """The data a self-training run reads: its translated source and labeled target streams (fixed), and
    each round's pseudo-labeled stream (made from that round's teacher)."""

    def __init__(self, data_root, source_root, profile, c: SelfTraining, predictions, device, precision):
        self.data_root, self.source_root, self.profile, self.c = data_root, source_root, profile, c
        self.predictions, self.device, self.precision = predictions, device, precision
        self.splits = POOL_SPLITS[c.pool]
        crop_noise = c.noise if c.noise_all_streams else False
        self.gt_names, self.labeled = set(), []
        if c.labeled_fraction > 0:
            split = target_set(data_root, profile, self.splits[0], train=True, strong=crop_noise)
            subset = subset_fraction(split, c.labeled_fraction)
            self.gt_names = {split.names[i] for i in getattr(subset, "indices", range(len(split)))}
            self.labeled = [subset]
        self.source = source_set(source_root, profile, strong=crop_noise)
        self.class_weights = class_weights_for(self.source, source_root, c.class_weighting != "none")

    def of_round(self, k: int, counts, teacher, rd: Path):
        """(round k's streams in batch order, the pseudo-labels' quality or None)."""
        c, real, quality = self.c, [], None
        if counts[1]:                       # the control (real share 0) trains without pseudo-labels
            pool = ConcatDataset([target_set(self.data_root, self.profile, s) for s in self.splits])
            quality = make_pseudo_labels(
                load_segmenter(teacher, self.profile, self.device), pool, rd / "pseudo", self.device,
                mode=c.thresholds, portion=c.portions[min(k, len(c.portions)) - 1], threshold=c.threshold,
                flip=c.flip, ground_truth=self.gt_names, predictions=self.predictions if k == 1 else None,
                num_workers=loader_workers(self.profile), floor=c.floor, bottom=c.ignore_bottom,
                image_weighting=c.image_weighting, true_labels=c.true_labels, precision=self.precision,
                class_weights=self.class_weights.tolist() if c.class_weighting == "all" else None)
            weights = rd / "pseudo" / "weights" if c.image_weighting else None
            real = [ConcatDataset([PseudoLabeled(target_set(self.data_root, self.profile, s, train=True, strong=c.noise),
                                                 rd / "pseudo" / "labels", weights) for s in self.splits])]
        return [self.source] * bool(counts[0]) + real + self.labeled, quality

    def weighted(self, counts) -> list[bool]:
        """Which non-empty streams the class weights apply to."""
        c = self.c
        return [c.class_weighting == "all" or (c.class_weighting == "labeled" and kind != "pseudo")
                for kind, n in zip(("source", "pseudo", "labeled"), counts) if n]

    def sampling(self, data) -> list | None:
        """Rare-class sampling weights of the source stream (DAFormer), or None."""
        if not (self.c.rare_class_sampling and self.c.source):
            return None
        return [rare_class_weights(self.source, self.source_root)] + [None] * (len(data) - 1)


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
