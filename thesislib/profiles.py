"""Run profiles: one plain dataclass per size, the single place for sizes and budgets.

`smoke` is for tests (minutes on CPU), `default` is the embedded world with a teacher trained near convergence
(2,400 steps) and five seeds (hours on a 2-core CPU, see docs/budget.md; `gpu` is the same world for one GPU),
`paper` is the thesis' setting (DeepLabV3+ ResNet-50 from ImageNet weights, trained and predicting at
512x1024, scored against the full-resolution labels) for a GPU and the real data.
Override any field with `dataclasses.replace(profile, field=value)` or `key=value` on the command line.
"""
import typing
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Profile:
    name: str
    # embedded world (number of images per domain/split, generated resolution)
    n_source: int = 2500
    n_train: int = 500
    n_extra: int = 2500
    n_val: int = 250
    world_hw: tuple[int, int] = (256, 512)
    source_world_hw: tuple[int, int] | None = None   # the source images' size, if not world_hw
    # task model (DeepLabV3+)
    encoder: str = "resnet18"
    encoder_weights: str | None = None       # "imagenet" (torch cache, see models/segmentation.py) | None: from scratch
    decoder_channels: int = 128
    image_hw: tuple[int, int] = (96, 192)   # loaders resize every image to this; whole images are predicted at it
    crop_hw: tuple[int, int] | None = (64, 128)   # training crops of the (scale-jittered) image_hw images; None: image_hw
    batch_size: int = 8
    lr: float = 3e-3
    steps: int = 2400                        # supervised training steps (every row of chapters 4-6): the teacher
                                             # gains 5.8 mIoU from 400 (scripts/converge.py, docs/results.md)
    class_weighting: bool = True             # class-balanced cross-entropy (1/sqrt(frequency) of the training labels)
    # CycleGAN
    gan_hw: tuple[int, int] = (64, 128)
    gan_ngf: int = 16
    gan_blocks: int = 3
    gan_ndf: int = 32                        # PatchGAN width (the paper's 64 on GPU profiles)
    gan_steps: int = 5000
    gan_batch_size: int = 1
    gan_upsample: str = "resize"             # the generator's x2 upsampling: resize (no checkerboard) | transpose
    gan_identity: float = 0.5                # the identity loss' weight, relative to the cycle loss (the reference's)
    # adaptation and self-training
    adapt_steps: int = 300                   # adversarial / entropy: steps from the teacher (half-and-half batches)
    st_rounds: int = 2
    st_steps: int = 300
    st_real_share: tuple[float, ...] = (0.3, 0.6)
    st_pool: str = "train"                   # target splits pseudo-labeled: train | train+extra
    st_ignore_bottom: float = 0.1            # bottom rows never pseudo-labeled: the world's bonnet is <= 10 % high
    # experiments
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)   # five, each with its own CycleGAN: paired 95 % intervals over seeds
    fractions: tuple[float, ...] = (1 / 64, 1 / 16, 1.0)
    eval_source_images: int | None = 1000    # source sets scored by target-trained models (evenly spaced; None: all)
    num_workers: int = 0                     # loader processes per stage; -1: the machine's cores shared by its stages
    ram_cache_mb: int = 1024                 # decoded, resized images kept in RAM, all loader workers together
    ckpt_every: int = 200
    compile: bool = False                    # torch.compile every training's networks (CUDA; +46 % for CycleGAN on an H100)
    working_copy: bool = False               # real data: train from a one-time copy at image_hw (data.working)
    # where stages run (never part of a result): side by side on each GPU, and a SLURM job's size (a training's;
    # job_hours: the longest a job asks for, thesislib.runs.estimate.job_size sizes each stage's)
    stages_per_gpu: int = 1
    job_cpus: int = 2
    job_mem_gb: int = 8
    job_gpus: int = 0
    job_hours: float = 2.0


# where and how stages run, never what they compute: overriding one changes no stage key, no table's provenance
# and no export folder (a notebook still writes tables/ and figures/)
PLACEMENT = ("num_workers", "ram_cache_mb", "stages_per_gpu", "job_cpus", "job_mem_gb", "job_gpus", "job_hours")


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", n_source=24, n_train=12, n_extra=16, n_val=8, world_hw=(64, 128),
        encoder="resnet18", decoder_channels=32, image_hw=(32, 64), crop_hw=None, batch_size=4, steps=6,
        gan_hw=(32, 64), gan_ngf=4, gan_blocks=1, gan_ndf=8, gan_steps=6, adapt_steps=6,
        st_rounds=2, st_steps=6, st_real_share=(0.25, 0.5), seeds=(0,), fractions=(0.5, 1.0),
        ckpt_every=3, job_cpus=1, job_mem_gb=2,           # a smoke stage: one thread, about 1 GB
    ),
    "default": Profile(name="default"),
    # the default's experiment (world, models, steps, seeds) on one GPU: bf16, four stages side by side, each with
    # its own loader workers; only where-it-runs fields differ, so its tables answer the default's questions
    "gpu": Profile(name="gpu", num_workers=-1, ram_cache_mb=4096, stages_per_gpu=4, job_gpus=1, job_cpus=4,
                   job_mem_gb=16),
    "large": Profile(
        name="large", n_source=5000, n_train=1000, n_extra=5000, n_val=500, world_hw=(512, 1024),
        image_hw=(192, 384), crop_hw=(128, 256), steps=2000, gan_hw=(128, 256), gan_ndf=64, gan_steps=4000, adapt_steps=2000, st_rounds=3,
        st_steps=1500, st_real_share=(0.25, 0.5, 0.75), st_pool="train+extra", fractions=(1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0),
    ),
    "paper": Profile(
        name="paper", world_hw=(512, 1024), encoder="resnet50", encoder_weights="imagenet", decoder_channels=256,
        image_hw=(512, 1024), crop_hw=None,
        batch_size=8, lr=1e-3, steps=40000, gan_hw=(256, 512), gan_ngf=64, gan_blocks=9, gan_ndf=64, gan_steps=100000,
        gan_upsample="transpose",            # the reference's generator, as the thesis trained it
        adapt_steps=40000, st_rounds=3, st_steps=20000, st_real_share=(0.25, 0.5, 0.75), st_pool="train+extra",
        st_ignore_bottom=120 / 512, fractions=(1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0), seeds=(0,), num_workers=8, ram_cache_mb=0, eval_source_images=None,
        ckpt_every=2000, working_copy=True,    # trainings decode 512x1024 PNGs, not 2048x1024 ones
        # a SLURM job: one GPU, the loader's 8 workers and the stage's own process; 24 h at most (docs/gpu.md)
        job_gpus=1, job_cpus=10, job_mem_gb=48, job_hours=24.0,
    ),
}


# `make paper-check`: the paper profile as it is, on a small embedded world at the real image sizes, with
# a handful of steps and a batch of 2, so the whole paper path (ResNet-50 from ImageNet weights at
# 512x1024, 9-block CycleGAN, train+extra pool, every fraction, full-resolution scoring) runs on a CPU
PROFILES["paper-check"] = replace(
    PROFILES["paper"], name="paper-check", n_source=6, n_train=4, n_extra=4, n_val=4, world_hw=(1024, 2048),
    source_world_hw=(1052, 1914), batch_size=2, gan_batch_size=1, steps=1, gan_steps=2, adapt_steps=1, st_steps=1,
    num_workers=2, ckpt_every=1)


def default_profile() -> str:
    """The profile `make reproduce` takes when none is named: "gpu" where CUDA is, else "default"."""
    import torch
    return "gpu" if torch.cuda.is_available() else "default"


def loader_workers(profile: Profile) -> int:
    """A stage's loader processes: the profile's, or with -1 the machine's cores shared by the stages that run
    side by side (less one for each stage's own process)."""
    if profile.num_workers >= 0:
        return profile.num_workers
    import os
    return max(0, (os.cpu_count() or 1) // max(1, profile.stages_per_gpu) - 1)


def result_overrides(overrides: dict) -> dict:
    """The overrides that change what stages compute: all but the PLACEMENT fields."""
    return {k: v for k, v in overrides.items() if k not in PLACEMENT}


def result_fields(profile: Profile) -> Profile:
    """`profile` with its PLACEMENT fields as its named profile sets them (what identifies its results)."""
    return replace(profile, **{f: getattr(PROFILES[profile.name], f) for f in PLACEMENT})


def get_profile(name: str, **overrides) -> Profile:
    """The named profile with `overrides` applied; a clear error for an unknown name or field, or a value that
    does not fit its field (see `check_overrides`)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    return replace(PROFILES[name], **check_overrides(overrides))


CHOICES = {"encoder_weights": ("imagenet", None), "gan_upsample": ("resize", "transpose"),
           "st_pool": ("train", "train+extra")}


def check_overrides(overrides: dict) -> dict:
    """`overrides` (profile fields, e.g. from key=value) as the fields' types want them: an int for a float
    field, a list for a tuple, "none" for None; one ValueError naming the field, the value and the expected
    form for anything else, or for a field that does not exist."""
    types = {f.name: f.type for f in fields(Profile)}
    unknown = sorted(set(overrides) - set(types))
    if unknown:
        raise ValueError(f"unknown profile field(s) {unknown}: valid fields are {sorted(types)}")
    out = {}
    for k, v in overrides.items():
        try:
            out[k] = _coerce(v, types[k], CHOICES.get(k))
        except (TypeError, ValueError):
            raise ValueError(f"profile field {k}={v!r} does not fit: expected {_form(types[k], CHOICES.get(k))}") from None
    return out


def _coerce(value, kind, choices=None):
    """`value` as type `kind` (int, float, bool, str, tuple[X, ...], tuple[X, X], X | None) or a ValueError."""
    args = typing.get_args(kind)
    if type(None) in args:                                   # X | None
        if value is None or str(value).lower() == "none":
            return None
        kind, args = args[0], typing.get_args(args[0])
    if choices and value not in choices:
        raise ValueError(value)
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (list, tuple)) or (Ellipsis not in args and len(value) != len(args)):
            raise ValueError(value)
        return tuple(_coerce(x, args[0]) for x in value)
    if kind is bool or isinstance(value, bool):
        if kind is not bool or not isinstance(value, bool):
            raise ValueError(value)
        return value
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise ValueError(value)
    return value


def _form(kind, choices=None) -> str:
    """The expected form of a field's value, in words with an example."""
    if choices:
        return "one of " + ", ".join("none" if c is None else c for c in choices)
    args = typing.get_args(kind)
    if type(None) in args:
        return _form(args[0]) + ", or none"
    if typing.get_origin(kind) is tuple:
        item, example = {int: ("integers", "[64,128]"), float: ("numbers", "[0.3,0.6]")}[args[0]]
        return f"a list of {item}, e.g. {example}" if Ellipsis in args else f"a list of {len(args)} {item}, e.g. {example}"
    return {int: "an integer, e.g. 100", float: "a number, e.g. 0.001", bool: "true or false",
            str: "a word"}[kind]
