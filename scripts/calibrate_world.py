"""Calibrate the embedded world and the default training setup (issue #9): which classes each model learns,
the source-only / oracle ratio, label scarcity, the translated and self-training gains, self-training variants.

  python scripts/calibrate_world.py BUILD_DIR JOB[,JOB...] [key=value ...]

JOBs: data (only the world), so (source-only), or (oracle), f64 / f16 / f8 / f4 (oracle on 1/64 ... 1/4 of
target-train), orcw / orrcs (oracle with class-weighted CE / rare-class sampling), tr (CycleGAN + translated
source), st (self-training), semi64 / semi16 (teacher + self-training with 1/64, 1/16 of the labels), fda,
advo / advf (output / feature adversarial), ent (entropy minimisation), and self-training variants: st_conf
(one global confidence threshold), st_bdl (BDL thresholds), st_rcs (+ rare-class sampling), st_pool
(pseudo-label target-train + train-extra), st_r3 (a third round), st_scratch (student from scratch),
st_no_noise (no student noise). Jobs of one BUILD_DIR share its stage cache (the CycleGAN, the teachers).
key=value (JSON values): seed=N (default 0); texture=T and grade=G set the source rendering's photo-texture
contrast (world.SOURCE.texture: 0 flat, 1 as the target's) and its share of the target's colour grade
(world.SOURCE.grade), defaults: the world's; profile=NAME; any other key is a profile override.
Prints one JSON line per result: mIoU, classes with IoU >= 10, per-class IoU.
"""
import dataclasses
import json
import sys
import time

from thesislib.tools import world

ST_VARIANTS = {"st_conf": {"thresholds": "confidence"}, "st_bdl": {"thresholds": "bdl"},
               "st_rcs": {"rare_class_sampling": True}, "st_pool": {"pool": "train+extra"},
               "st_r3": {"rounds": 3, "real_share": (0.3, 0.6, 0.8)}, "st_scratch": {"student_init": "scratch"},
               "st_no_noise": {"noise": False}}


def main(build, jobs, overrides):
    seed = overrides.pop("seed", 0)
    source = {k: float(overrides.pop(k)) for k in ("texture", "grade") if k in overrides}
    if source:
        world.SOURCE = world.STYLES["source"] = dataclasses.replace(world.SOURCE, **source)   # inherited by the
    from thesislib.experiments import Lab                                                  # world writer's workers
    lab = Lab(overrides.pop("profile", "default"), build_dir=build, **overrides)
    if jobs == ["data"]:
        return print(lab.data(), flush=True)
    calls = {"so": lambda: lab.source_only(seed), "or": lambda: lab.oracle(seed),
             **{f"f{n}": (lambda n=n: lab.oracle(seed, fraction=1 / n)) for n in (64, 16, 8, 4)},
             "orcw": lambda: lab.oracle(seed, class_weighting=True),
             "orrcs": lambda: lab.oracle(seed, rare_class_sampling=True), "tr": lambda: lab.translated(seed),
             "st": lambda: lab.self_training(seed), "semi16": lambda: lab.semi_supervised(1 / 16, seed),
             "semi64": lambda: lab.semi_supervised(1 / 64, seed), "fda": lambda: lab.fda(seed),
             "advo": lambda: lab.adversarial("output", seed), "advf": lambda: lab.adversarial("feature", seed),
             "ent": lambda: lab.entropy(seed),
             **{name: (lambda kw=kw: lab.self_training(seed, **kw)) for name, kw in ST_VARIANTS.items()}}
    for job in jobs:
        t0 = time.time()
        result = calls[job]()
        val = result["val"]
        iou = val["iou"]
        print(json.dumps({"job": job, "seed": seed, "source": source, "overrides": overrides,
                          "miou": round(val["miou"], 2), "learned": sum(v >= 10 for v in iou.values()),
                          "zero": sum(v <= 0 for v in iou.values()),
                          "rounds": [round(r["val"]["miou"], 2) for r in result.get("rounds", [])],
                          "iou": {k: round(v, 1) for k, v in iou.items()}, "t": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])})
