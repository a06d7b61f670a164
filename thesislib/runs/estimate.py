"""What a stage costs on a GPU, and the SLURM job that fits it.

A stage's seconds are its images through a model (the stage kinds' `cost`, thesislib.runs.stages) divided by a rate:
training at the profile's training rate (DeepLabV3+ steps in images/s, CycleGAN steps in pairs/s), inference
(pseudo-labels, translation, scoring) at INFERENCE_SPEEDUP times the training rate (a forward only). `job_size`
turns that into a SLURM job (submitit's SlurmExecutor parameters) for `thesislib reproduce --executor slurm`;
`scripts/paper_time.py` schedules the same seconds on N GPUs.
"""
import json
from pathlib import Path

from thesislib.runs.stages import KINDS

# H100, torch 2.11, an earlier session's `thesislib bench` (docs/gpu.md): what the profiles run, uncompiled (no
# profile sets `compile`). DeepLabV3+ R50 512x1024 batch 8, bf16 + channels_last: 150.5 img/s. CycleGAN (ngf 64,
# 9 blocks, 256x512) was measured at batch 4 only (bf16 23.3 pairs/s); the profiles train it at batch 1, whose rate
# is at most that: the estimate of a CycleGAN is a lower bound until `scripts/gpu_check.py` measures batch 1.
H100 = {"seg": 150.5, "gan": 23.3, "source": "H100 bench of an earlier session (bf16, uncompiled; CycleGAN at "
                                             "batch 4: a lower bound on the batch-1 time)"}
INFERENCE_SPEEDUP = 3.0          # a forward pass against forward + backward + optimizer step
INFERENCE = ("score", "predictions")
MARGIN, START_MINUTES = 1.5, 15  # a job's time limit: 1.5x the estimate, plus start-up (Python, data, model)


# A 2-core CPU: the last full `make reproduce` put 356,850 images through a model in 86.6 min, two stages side by
# side, on a machine whose `make bench` (DeepLabV3+ fp32, two threads) gave 57.5 img/s (docs/budget.md).
CPU_RUN = {"images": 356_850, "seconds": 86.6 * 60, "bench": 57.5}


def cpu_hours(images: float, bench_img_s: float) -> float:
    """Hours for `images` through a model on a 2-core CPU whose `make bench` gives `bench_img_s` (fp32), scaled from
    CPU_RUN: an estimate, as close as the machine's bench is to its sustained rate."""
    rate = CPU_RUN["images"] / CPU_RUN["seconds"] * bench_img_s / CPU_RUN["bench"]
    return images / rate / 3600


def bench_rate(*paths) -> float | None:
    """The fp32 DeepLabV3+ img/s of the first CPU `make bench` JSON (build/bench.json) among `paths`, or None."""
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text())
            if doc.get("device_type") == "cpu":
                return float(doc["models"]["deeplabv3plus"]["configs"]["fp32_eager"]["images_per_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def rates(path=None, profile: str = "paper") -> dict:
    """{"seg": img/s, "gan": pairs/s, "side_by_side": x, "source": ...} of `profile`'s models: the entry for
    `profile` of a measured rates JSON (scripts/gpu_check.py writes one: {profile: {"seg", "gan"[, "side_by_side"]}})
    when `path` is given, else the H100 figures above (for a smaller model than DeepLabV3+ R50 512x1024 an upper
    bound on its time). side_by_side: the throughput of `stages_per_gpu` stages sharing a GPU over one stage's
    (1: no gain, when not measured)."""
    if not path:
        return {**H100, "side_by_side": 1.0}
    doc = json.loads(Path(path).read_text())
    measured = doc.get(profile, {})
    missing = {"seg", "gan"} - set(measured)
    if missing:
        raise ValueError(f"{path} holds no {profile!r} rate for {sorted(missing)} (expected {{{profile!r}: "
                         "{'seg': img/s, 'gan': pairs/s}}, as scripts/gpu_check.py writes)")
    return {"seg": float(measured["seg"]), "gan": float(measured["gan"]),
            "side_by_side": float(measured.get("side_by_side", 1.0)),
            "source": f"{doc.get('device', 'a measured device')} ({path})"}


def stage_seconds(stage, profile, rate: dict = H100) -> float:
    """The GPU seconds of one stage at `rate` (see the module docstring)."""
    cost = KINDS[stage.kind].cost(stage, profile)
    forward = INFERENCE_SPEEDUP * rate["seg"]
    if stage.kind == "cyclegan":                 # 4.6 images a pair (stages.py), then translation of the source
        return cost / 4.6 / rate["gan"] + profile.n_source / forward
    if stage.kind == "score":                    # 0.3 images an item in its cost; one forward each
        return cost / 0.3 / forward
    if stage.kind == "predictions":              # 0.5 an item in its cost; a forward and its flip
        return cost / 0.5 * 2 / forward
    return cost / rate["seg"]


def job_size(stage, profile, rate: dict = H100) -> dict:
    """The SLURM job of one stage: a training gets the profile's `job_gpus`, `job_cpus` and `job_mem_gb`; a scoring
    or prediction job half the CPUs and memory (at least 1 CPU and 2 GB); the time limit is MARGIN x the estimate
    plus START_MINUTES with GPUs (`job_hours` at most: a job that runs out is requeued and resumes), `job_hours`
    without (no CPU rate is known)."""
    p = profile
    minutes = 60 * p.job_hours
    if p.job_gpus:
        minutes = min(minutes, START_MINUTES + MARGIN * stage_seconds(stage, p, rate) / 60)
    small = stage.kind in INFERENCE
    cpus = max(1, p.job_cpus // 2) if small else p.job_cpus
    mem = max(min(2, p.job_mem_gb), p.job_mem_gb // 2) if small else p.job_mem_gb
    size = {"time": max(1, round(minutes)), "cpus_per_task": cpus, "mem": f"{mem}GB"}
    if p.job_gpus:
        size["gpus_per_node"] = p.job_gpus
    return size
