"""The self-training ablation of docs/results.md: each variant and its control, from the same teachers, through the
stage cache (the teachers, CycleGANs and every stage `make reproduce` computed are read, not retrained).

    python scripts/ablate_self_training.py [SEEDS] [VARIANT ...]    # e.g. 0,1,2; default: every variant
    TEACHER_STEPS=2000 python scripts/ablate_self_training.py 0 default control noise   # a teacher trained longer
    PROFILE=smoke python scripts/ablate_self_training.py 0,1 floor                       # the path, in a minute

Prints one markdown row per variant: mIoU per seed and mean, the change against the teacher and the paired
differences (95 % t-interval over the seeds) against the control (the default's same training without
pseudo-labels) and against the empty-stream control (the same batches, pseudo-labels ignored), the classes on which the teacher reaches >= 30 IoU
that drop by more than 3, the pseudo-label precision of the last round (plain and weighted as the loss weighs
each pixel), and the share of the source-only -> oracle gap the variant closes.
"""
import os
import sys

import numpy as np
import pandas as pd

from thesislib.report.tables import interval_text, paired_difference
from thesislib.runs import plan
from thesislib.runs.lab import Lab
from thesislib.runs.stages import S

VARIANTS = {                                         # name: self-training options (what differs from the default)
    "default (labeled batch whole, pseudo-labels on top, fine-tuning warm-up)": {},
    "control: the default without pseudo-labels": {"real_share": "zeros"},
    "empty-stream control: the same batches, pseudo-labels ignored": {"empty_stream": True},
    "student lr x1 (the from-scratch rate, the previous design)": {"lr_factor": 1.0},
    "its control": {"lr_factor": 1.0, "real_share": "zeros"},
    "no warm-up": {"warmup": 0.0},
    "CBST with a confidence floor of 0.5": {"floor": 0.5},
    "CBST with a confidence floor of 0.9 (the mostly-wrong classes stop teaching)": {"floor": 0.9},
    "DACS / DAFormer: every pixel, weighted by its image's confident share": {"thresholds": "none",
                                                                              "image_weighting": True},
    "class weights on every stream": {"class_weighting": "all"},
    "noise on every stream": {"noise_all_streams": True},
    "noise on every stream, no pseudo-labels (a noised control)": {"noise_all_streams": True, "real_share": "zeros"},
    "half a batch of pseudo-labels on top": {"pseudo_batch": 4},
    "diagnostic: true labels on the selected pixels (partial target labels, not precision)": {"true_labels": True},
}


def options(lab, kw: dict) -> dict:
    return {k: ((0.0,) * lab.profile.st_rounds if v == "zeros" else v) for k, v in kw.items()}


def mean_of(qualities: list[dict], key: str) -> str:
    """A pseudo-label quality figure's mean over the seeds that have it ("--": none, e.g. nothing selected)."""
    values = [q[key] for q in qualities if q.get(key) is not None]
    return f"{np.mean(values):.0f}" if values else "--"


CONTROL = "control: the default without pseudo-labels"
EMPTY = "empty-stream control: the same batches, pseudo-labels ignored"


def main(seeds=(0, 1, 2), names=None) -> None:
    lab = Lab(os.environ.get("PROFILE", "default"))
    steps = int(os.environ.get("TEACHER_STEPS", 0)) or None        # the teacher's steps, if not the profile's
    teacher = lambda s: S("translated", seed=s, steps=steps)  # noqa: E731
    rows = [n for n in VARIANTS if not names or n in (CONTROL, EMPTY) or any(x in n for x in names)]
    stage = {(n, s): S("self_training", seed=s, teacher=teacher(s) if steps else None,
                       options=options(lab, VARIANTS[n]) or None) for n in rows for s in seeds}
    refs = {(r, s): teacher(s) if r == "translated" else plan.adaptation_stage(r, s)
            for r in ("translated", "source_only", "oracle") for s in seeds}
    lab.compute([plan.val(x) for x in [*stage.values(), *refs.values()]])
    miou = {k: lab.val(x)["miou"] for k, x in {**stage, **refs}.items()}
    mean = lambda name: np.mean([miou[name, s] for s in seeds])  # noqa: E731
    teacher, so, orc = mean("translated"), mean("source_only"), mean("oracle")
    per_seed = lambda name: ", ".join(f"{miou[name, s]:.1f}" for s in seeds)  # noqa: E731
    raw = pd.DataFrame([{"row": n, "seed": s, "value": x} for (n, s), x in miou.items()])
    versus = lambda a, b: interval_text(paired_difference(raw, a, b))  # noqa: E731
    print(f"teacher {teacher:.1f} ({per_seed('translated')}); source only {so:.1f}; oracle {orc:.1f}")
    print("| variant | mIoU per seed | mean | vs teacher | vs control [95 %] | vs empty-stream [95 %] | "
          "teacher classes >= 30 dropping > 3 | precision (loss-weighted), class mean, last round | gap closed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in rows:
        drops = sorted({c for s in seeds for c, x in lab.val(refs["translated", s])["iou"].items()
                        if x is not None and x >= 30 and (lab.val(stage[n, s])["iou"][c] or 0) < x - 3})
        last = [lab.result(stage[n, s])["rounds"][-1]["pseudo_labels"] for s in seeds]
        precision = "--" if last[0] is None else (f"{mean_of(last, 'overall_precision')} "
                                                 f"({mean_of(last, 'loss_weighted_precision')}), "
                                                 f"{mean_of(last, 'class_mean_precision')}")
        print(f"| {n} | {per_seed(n)} | {mean(n):.1f} | {mean(n) - teacher:+.1f} | {versus(n, CONTROL)} | "
              f"{versus(n, EMPTY)} | {', '.join(drops) or 'none'} | {precision} | "
              f"{100 * (mean(n) - so) / (orc - so):.0f} % |", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(tuple(int(s) for s in args[0].split(",")) if args else (0, 1, 2), args[1:] or None)
