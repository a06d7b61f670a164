"""The control of the thesis' loop in the data-dependency chapter: the same student training from the same S+T
teacher, with the labels kept, for the same rounds and steps, without pseudo-labels (a real share of 0). Through the
stage cache (the S+T teachers and the loop itself are read, not retrained).

    python scripts/ablate_loop.py [SEEDS] [FRACTIONS]        # e.g. 0,1,2 0.015625,0.0625 (the default)

Prints one markdown row per fraction: labeled only, S+T, the loop's control and the loop, mean over the seeds (per
seed in brackets), with the label visits per labeled image of each.
"""
import sys

import numpy as np

from thesislib.runs import plan
from thesislib.runs.chapters import label_visits
from thesislib.runs.lab import Lab
from thesislib.runs.stages import S, Stage


def control(seed: int, fraction: float, p) -> Stage:
    loop = plan.data_dependency_stage("loop", seed, fraction)
    return S("self_training", seed=seed, teacher=loop["teacher"],
             options={**dict(loop["options"]), **plan.control_options(p)})


def main(seeds=(0, 1, 2), fractions=(1 / 64, 1 / 16)) -> None:
    lab = Lab("default")
    rows = {(r, f): {s: plan.data_dependency_stage(r, s, f) if r != "control" else control(s, f, lab.profile)
                     for s in seeds} for f in fractions for r in ("labeled_only", "joint", "control", "loop")}
    lab.compute([plan.val(x) for per_seed in rows.values() for x in per_seed.values()])
    n_train = len(lab.dataset("train"))
    print("| labeled share | labeled only | S+T | the loop's control (no pseudo-labels) | the loop |")
    print("|---|---|---|---|---|")
    for f in fractions:
        cells = []
        for r in ("labeled_only", "joint", "control", "loop"):
            m = [lab.val(rows[r, f][s])["miou"] for s in seeds]
            visits = label_visits(lab, rows[r, f][seeds[0]]) / round(f * n_train)
            cells.append(f"{np.mean(m):.1f} ({', '.join(f'{x:.1f}' for x in m)}; {visits:.0f} visits)")
        print(f"| {f:g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(tuple(int(s) for s in a[0].split(",")) if a else (0, 1, 2),
         tuple(float(f) for f in a[1].split(",")) if len(a) > 1 else (1 / 64, 1 / 16))
