"""Calibrate the embedded world and the default training setup (issue #9): which classes each model learns,
the source-only / oracle ratio, label scarcity, the translated and self-training gains. Seed 0 unless given.

  python scripts/calibrate_world.py BUILD_DIR TEXTURE JOB[,JOB...] [key=value ...]

TEXTURE[:GRADE] set the source rendering's photo-texture contrast (world.SOURCE.texture: 0 flat, 1 as the
target's) and the share of the target's colour grade it gets (world.SOURCE.grade);
JOBs: data (only the world), so (source-only), or (oracle), f64 / f16 / f8 / f4 (oracle on 1/64 ... 1/4 of
target-train), orcw / orrcs (oracle with class-weighted CE / rare-class sampling), tr (CycleGAN + translated
source), st (self-training), semi64 / semi16 (teacher + self-training with 1/64, 1/16 of the labels), fda,
advo / advf (output / feature adversarial), ent (entropy minimisation). key=value are profile overrides (JSON
values; profile=NAME picks another profile). Prints one JSON line per result: mIoU, classes with IoU >= 10,
per-class IoU.
"""
import dataclasses
import json
import sys
import time

from thesislib.data import world


def main(build, texture, jobs, overrides):
    texture, _, grade = texture.partition(":")
    source = dataclasses.replace(world.SOURCE, texture=float(texture), grade=float(grade or world.SOURCE.grade))
    world.SOURCE = world.STYLES["source"] = source          # inherited by the world writer's forked workers
    from thesislib.experiments import Lab
    lab = Lab(overrides.pop("profile", "default"), build_dir=build, **overrides)
    if jobs == ["data"]:
        return print(lab.data(), flush=True)
    calls = {"so": lambda: lab.source_only(0), "or": lambda: lab.oracle(0),
             **{f"f{n}": (lambda n=n: lab.oracle(0, fraction=1 / n)) for n in (64, 16, 8, 4)}, "orcw": lambda: lab.oracle(0, class_weighting=True),
             "orrcs": lambda: lab.oracle(0, rare_class_sampling=True), "tr": lambda: lab.translated(0),
             "st": lambda: lab.self_training(0), "semi16": lambda: lab.semi_supervised(1 / 16, 0),
             "semi64": lambda: lab.semi_supervised(1 / 64, 0), "fda": lambda: lab.fda(0),
             "advo": lambda: lab.adversarial("output", 0), "advf": lambda: lab.adversarial("feature", 0),
             "ent": lambda: lab.entropy(0)}
    for job in jobs:
        t0 = time.time()
        result = calls[job]()
        val = result["val"]
        iou = val["iou"]
        print(json.dumps({"texture": texture, "job": job, "overrides": overrides, "miou": round(val["miou"], 2),
                          "learned": sum(v >= 10 for v in iou.values()), "zero": sum(v <= 0 for v in iou.values()),
                          "rounds": [round(r["val"]["miou"], 2) for r in result.get("rounds", [])],
                          "iou": {k: round(v, 1) for k, v in iou.items()}, "t": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","),
         {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])})
