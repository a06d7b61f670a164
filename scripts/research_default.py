"""Exploration at the default profile (seed 0): every method once, plus self-training variants.

Used to choose the self-training settings; prints one JSON line per result.
  python scripts/research_default.py BUILD_DIR base          # data, CycleGAN, teacher (run first)
  python scripts/research_default.py BUILD_DIR JOB           # then any job below, in parallel
"""
import json
import sys
import time

from thesislib.experiments import Lab

overrides = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
lab = Lab("default", build_dir=sys.argv[1], **overrides)
job = sys.argv[2]
t0 = time.time()

ST_VARIANTS = {"st": {}, "st_bdl": {"thresholds": "bdl"}, "st_scratch": {"student_init": "scratch"},
               "st_no_rcs": {"rare_class_sampling": False}, "st_cw": {"class_weighting": True},
               "st_no_noise": {"noise": False}, "st_share_hi": {"real_share": (0.5, 0.75, 0.9)},
               "st_conf": {"thresholds": "confidence"}}
JOBS = {
    "base": lambda: [("translated", lab.translated(0))],
    "bounds": lambda: [("source_only", lab.source_only(0)), ("oracle", lab.oracle(0)), ("fda", lab.fda(0))],
    "uda": lambda: [("adversarial_output", lab.adversarial("output", 0)),
                    ("adversarial_feature", lab.adversarial("feature", 0)), ("entropy", lab.entropy(0))],
    **{name: (lambda kw=kw, name=name: [(name, lab.self_training(0, **kw))]) for name, kw in ST_VARIANTS.items()},
}

for name, result in JOBS[job]():
    val = result["val"]
    extra = {"rounds": [r["val"]["miou"] for r in result["rounds"]],
             "pl_precision": [r["pseudo_labels"]["overall_precision"] for r in result["rounds"]],
             "pl_coverage": [r["pseudo_labels"]["overall_coverage"] for r in result["rounds"]]} if "rounds" in result else {}
    print(json.dumps({"name": name, "miou": val["miou"], "pa": val["pixel_accuracy"], **extra,
                      "t": round(time.time() - t0)}), flush=True)
