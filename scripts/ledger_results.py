"""What the ledger holds so far: chapter 4's, 5's and 6's mIoU rows over the seeds it has, their paired
differences with 95 % intervals (t over seeds) and, once it holds the whole self-training table, chapter 5's goals,
computed as the exports compute them. A partial reading for the sittings between full runs; the thesis' tables come from
`make reproduce`.

    python scripts/ledger_results.py [--profile default] [--ledger-dir ledger]   # ends with chapter 6's train_seconds
"""
import argparse
import tempfile
from pathlib import Path

import pandas as pd

from thesislib.report.figures import fraction_label
from thesislib.report.tables import ST_DIFFERENCES, interval_text, paired_difference
from thesislib.runs import chapters, plan
from thesislib.runs.chapters import ADAPTATION_DIFFERENCES, DD_DIFFERENCES
from thesislib.runs.lab import Lab
from thesislib.runs.ledger import LEDGER


def known_rows(lab, rows: dict) -> pd.DataFrame:
    """(row, seed, miou) of the plan's val scores that this build or the ledger holds."""
    return pd.DataFrame([{"row": row, "seed": seed, "miou": lab.result(stage)["miou"]}
                         for row, per_seed in rows.items() for seed, stage in per_seed.items() if lab.done(stage)],
                        columns=["row", "seed", "miou"])


def summary(raw: pd.DataFrame, pairs) -> str:
    """Markdown: each row's mIoU per seed, then each paired difference with its interval and seeds."""
    wide = raw.pivot_table(index="row", columns="seed", values="miou", sort=False)
    lines = ["| row | " + " | ".join(f"seed {s}" for s in wide.columns) + " | mean |", "|---" * (len(wide.columns) + 2) + "|"]
    lines += [f"| {row} | " + " | ".join("" if pd.isna(v) else f"{v:.2f}" for v in wide.loc[row])
              + f" | {wide.loc[row].mean():.2f} |" for row in wide.index]
    lines += ["", "| difference | mIoU [95 % interval] | seeds | finding |", "|---|---|---|---|"]
    for a, b in pairs:
        d = paired_difference(raw, a, b, value="miou")
        if d["seeds"]:
            lines.append(f"| {a} − {b} | {interval_text(d, 2)} | {d['seeds']} | {'yes' if d['finding'] else 'no'} |")
    return "\n".join(lines)


def whole_table(lab) -> dict | None:
    """The self-training table's rows (plan.self_training_table) if the ledger holds every one for every seed."""
    rows = plan.self_training_table(lab.profile)
    return rows if all(lab.done(stage) for per_seed in rows.values() for stage in per_seed.values()) else None


def goals(lab) -> str | None:
    """Chapter 5's goals as the notebook judges them (`chapters.self_training_goals`), once the ledger holds every
    row of the self-training table (the gap closed needs source only and the oracle); None before."""
    if whole_table(lab) is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:                  # the table's files are not wanted here
        out = chapters.Exports(Path(scratch), Path(scratch))
        chapters.self_training_table(lab, out)
    lines = ["| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {goal} | {r.measured} | {'yes' if r.met else 'no'} |"
              for goal, r in chapters.self_training_goals(out).iterrows()]
    return "\n".join(lines)


def seed_iou(lab, rows: dict, names) -> pd.DataFrame:
    """Per-class IoU, a column per (row, seed), of the named rows of a plan's val scores."""
    return pd.concat({row: pd.DataFrame({seed: lab.result(s)["iou"] for seed, s in rows[row].items()}) for row in names},
                     axis=1, names=["row", "seed"])


def gap_by_class(lab, precise: float = 50.0) -> str | None:
    """What limits the gap closed: per class, the mean IoU over seeds of source only, teacher, self-training and
    oracle beside the precision of its pseudo-labels (mean over rounds and seeds), sorted by that precision; the
    share of the gap left to the oracle in the classes under `precise` %; then each chapter-4 row's gain over the
    teacher in the mean IoU of those classes and of the others (paired by seed, with its 95 % interval)."""
    rows = whole_table(lab)
    if rows is None:
        return None
    table = seed_iou(lab, rows, ("source_only", "teacher", "self_training", "oracle")).T.groupby(level=0, sort=False).mean().T
    table["pseudo_label_precision"] = pd.DataFrame([r["pseudo_labels"]["precision"] for s in rows["self_training"].values()
                                                    for r in lab.result(s["model"])["rounds"]]).mean()
    table = table.sort_values("pseudo_label_precision")
    under = table.index[table["pseudo_label_precision"] < precise]
    left = table["oracle"] - table["self_training"]
    lines = ["| class | " + " | ".join(table.columns) + " |", "|---" * (len(table.columns) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(f"{v:.1f}" for v in table.loc[c]) + " |" for c in table.index]
    lines += ["", f"The {len(under)} classes under {precise:.0f} % precise hold {100 * left[under].sum() / left.sum():.0f} % "
              "of the gap left to the oracle.", "",
              f"| row − teacher | the {len(under)} classes, mean IoU [95 % interval] | the other {len(table) - len(under)} |",
              "|---|---|---|"]
    chapter4 = plan.per_class(lab.profile)
    for row, per_seed in chapter4.items():
        if row != "translated" and all(lab.done(s) for s in per_seed.values()):
            iou = seed_iou(lab, chapter4, (row, "translated"))
            gains = [paired_difference(iou[part].mean().rename("iou").reset_index(), row, "translated", value="iou")
                     for part in (iou.index.isin(under), ~iou.index.isin(under))]
            lines.append(f"| {row} | {interval_text(gains[0], 2)} | {interval_text(gains[1], 2)} |")
    return "\n".join(lines)


def data_dependency_rows(lab) -> dict:
    """Chapter 6's val scores as {"row @ labeled share": {seed: score stage}} (notebook 06's)."""
    return {f"{row} @ {fraction_label(f)}": per_seed
            for (row, f), per_seed in plan.data_dependency(lab.profile).items() if f is not None}


def train_seconds(lab) -> str:
    """Markdown: the one-core seconds (`train_seconds`) of each chapter-6 row's model per seed, as far as known."""
    raw = pd.DataFrame([{"row": row, "seed": seed, "s": lab.result(stage.needs["model"]).get("train_seconds")}
                        for row, per_seed in data_dependency_rows(lab).items() for seed, stage in per_seed.items()
                        if lab.done(stage)], columns=["row", "seed", "s"])
    table = raw.pivot(index="row", columns="seed", values="s").reindex(raw["row"].unique())
    lines = ["| row | " + " | ".join(f"seed {s}" for s in table.columns) + " |", "|---|" + "---|" * len(table.columns)]
    lines += [f"| {row} | " + " | ".join("" if pd.isna(s) else f"{s:,.0f}" for s in values) + " |"
              for row, values in table.iterrows()]
    return "\n".join(lines)


def data_dependency(lab) -> str:
    """Markdown: chapter 6's rows as "row @ labeled share" (notebook 06's), and its paired differences at each share."""
    rows = data_dependency_rows(lab)
    pairs = [(f"{a} @ {fraction_label(f)}", f"{b} @ {fraction_label(f)}")
             for f in lab.profile.fractions for a, b in DD_DIFFERENCES]
    return summary(known_rows(lab, rows), pairs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--ledger-dir", default=str(LEDGER))
    a = ap.parse_args()
    lab = Lab(a.profile, compute=False, ledger_dir=a.ledger_dir)
    print("## Chapter 5: self-training (target val)\n")
    print(summary(known_rows(lab, plan.self_training_table(lab.profile)), ST_DIFFERENCES))
    print("\n### Goals\n")
    print(goals(lab) or "(not yet: the ledger lacks a row of the self-training table for some seed)")
    print("\n### What limits the gap closed (IoU per class, mean over seeds)\n")
    print(gap_by_class(lab) or "(not yet)")
    print("\n## Chapter 4: adaptation (target val)\n")
    print(summary(known_rows(lab, plan.per_class(lab.profile)), ADAPTATION_DIFFERENCES))
    print("\n## Chapter 6: data dependency (target val)\n")
    print(data_dependency(lab))
    print("\n### One-core seconds of each row's model (train_seconds)\n")
    print(train_seconds(lab))


if __name__ == "__main__":
    main()
