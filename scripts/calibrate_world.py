"""Calibrate the embedded world and the default training setup: which classes each model learns, the
source-only / oracle ratio, label scarcity, the translated and self-training gains.

  python scripts/calibrate_world.py BUILD_DIR JOB[,JOB...] [key=value ...]

JOBs: data (only the world), so (source-only), or (oracle), f64 / f16 / f8 / f4 (oracle on 1/64 ... 1/4 of
target-train), tr (CycleGAN + translated source), st (self-training), ctrl (its control), fda, advo / advf
(output / feature adversarial), ent (entropy minimisation), joint64 / joint16 (S+T), loop64 / loop16 (the
thesis' loop with labels). Jobs of one BUILD_DIR share its stage cache (the CycleGANs, the teachers).
key=value (JSON values): seed=N (default 0); texture=T and grade=G set the source rendering's photo-texture
contrast (world.SOURCE.texture: 0 flat, 1 as the target's) and its share of the target's colour grade
(world.SOURCE.grade), defaults: the world's; profile=NAME; any other key is a profile override.
Prints one JSON line per result: mIoU, classes with IoU >= 10, per-class IoU.
"""
import dataclasses
import json
import sys
import time

from thesislib.runs import plan
from thesislib.runs.stages import S
from thesislib.tools import world


def jobs_for(seed: int, p) -> dict:
    control = {"real_share": (0.0,) * p.st_rounds}
    return {"so": S("source_only", seed=seed), "or": S("oracle", seed=seed),
            **{f"f{n}": S("oracle", seed=seed, fraction=1 / n) for n in (64, 16, 8, 4)},
            "tr": S("translated", seed=seed), "st": S("self_training", seed=seed),
            "ctrl": S("self_training", seed=seed, options=control), "fda": plan.adaptation_stage("fda", seed),
            "advo": plan.adaptation_stage("adversarial_output", seed),
            "advf": plan.adaptation_stage("adversarial_feature", seed), "ent": S("entropy", seed=seed),
            **{f"joint{n}": S("joint", seed=seed, fraction=1 / n) for n in (64, 16)},
            **{f"loop{n}": plan.data_dependency_stage("loop", seed, 1 / n) for n in (64, 16)}}


def main(build, jobs, overrides):
    seed = overrides.pop("seed", 0)
    source = {k: float(overrides.pop(k)) for k in ("texture", "grade") if k in overrides}
    if source:
        world.SOURCE = world.STYLES["source"] = dataclasses.replace(world.SOURCE, **source)   # inherited by the
    from thesislib.runs.lab import Lab                                                          # world writer's workers
    lab = Lab(overrides.pop("profile", "default"), build_dir=build, overrides=overrides)
    if jobs == ["data"]:
        return print(lab.data(), flush=True)
    stages = jobs_for(seed, lab.profile)
    lab.compute([plan.val(stages[j]) for j in jobs])              # side by side, one per core
    for job in jobs:
        t0 = time.time()
        val = lab.val(stages[job])
        iou = val["iou"]
        print(json.dumps({"job": job, "stage": str(stages[job]), "seed": seed, "source": source,
                          "overrides": {k: str(v) for k, v in overrides.items()}, "miou": round(val["miou"], 2),
                          "learned": sum(v >= 10 for v in iou.values() if v is not None),
                          "zero": sum(v <= 0 for v in iou.values() if v is not None),
                          "iou": {k: None if v is None else round(v, 1) for k, v in iou.items()},
                          "t": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])})
