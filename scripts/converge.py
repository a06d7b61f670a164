"""When is the teacher converged, and what does self-training add there? (issue: chapter 5's question)

Trains, through the stage cache, the translated-source teacher and the oracle at several step budgets (the
profile's poly schedule to each budget), and from each teacher the self-training control (the same student
training without pseudo-labels) at the students' fine-tuning rate; at the budgets named last, self-training and
the empty-stream control too. All of it side by side, longest chain first. Prints one row per (budget, seed)
and writes every score with its one-core training seconds to a CSV, and the curves beside it (PDF and PNG).

    python scripts/converge.py SEEDS TEACHER_BUDGETS ORACLE_BUDGETS ST_BUDGETS [OUT.csv] [option=value ...]
    python scripts/converge.py 0 400,1200,2400 400,1200 2400 build/converge.csv lr_factor=0.2

A teacher is converged (the issue's definition) where the control gains <= 0.5 mIoU over it on every seed.
"""
import sys
import time
from pathlib import Path

import pandas as pd

from thesislib.runs import plan
from thesislib.runs.lab import Lab
from thesislib.runs.stages import S

STUDENTS = {"control": lambda p, o: {**o, **plan.control_options(p)},
            "empty_stream": lambda p, o: {**o, **plan.EMPTY_STREAM}, "self_training": lambda p, o: o}


def models(p, seed: int, n: int, options: dict, teacher: bool, oracle: bool, students: bool) -> dict:
    """The models of one (seed, budget): {row: Stage}."""
    steps = None if n == p.steps else n              # the profile's own budget: the stages make reproduce trains
    rows = {"oracle": S("oracle", seed=seed, steps=steps)} if oracle else {}
    if teacher:
        rows["teacher"] = S("translated", seed=seed, steps=steps)
        for row, make in STUDENTS.items():
            if row == "control" or students:
                rows[row] = S("self_training", seed=seed, teacher=rows["teacher"] if steps else None,
                              options=make(p, options) or None)
    return rows


def main(seeds, teacher_budgets, oracle_budgets, st_budgets, out_csv, options) -> pd.DataFrame:
    lab = Lab("default")
    p = lab.profile
    todo = {(n, s): models(p, s, n, options, n in teacher_budgets, n in oracle_budgets, n in st_budgets)
            for n in sorted(set(teacher_budgets) | set(oracle_budgets)) for s in seeds}
    t0 = time.time()
    lab.compute([plan.val(m) for rows in todo.values() for m in rows.values()])
    df = pd.DataFrame([{"steps": n, "seed": s, "row": row, "miou": lab.val(m)["miou"],
                        "one_core_seconds": lab.result(m).get("train_seconds"), "options": str(options)}
                       for (n, s), rows in todo.items() for row, m in rows.items()])
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_csv, index=False)
    wide = df.pivot_table(index=["steps", "seed"], columns="row", values="miou")
    for row, base in (("control", "teacher"), ("self_training", "control"), ("empty_stream", "control"),
                      ("self_training", "empty_stream")):
        if row in wide and base in wide:
            wide[f"{row} - {base}"] = wide[row] - wide[base]
    print(wide.round(2).to_string())
    from thesislib.report import figures, style
    style.save(figures.convergence(df), Path(out_csv).stem, Path(out_csv).parent)
    print(f"({time.time() - t0:.0f} s wall; {out_csv})")
    return df


if __name__ == "__main__":
    a = sys.argv[1:]
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    opts = {k: float(v) for k, v in (x.split("=", 1) for x in a[5:])}
    main(ints(a[0]), ints(a[1]), ints(a[2]), ints(a[3]), a[4] if len(a) > 4 else "build/converge.csv", opts)
