"""The README's results table, read from tables/*.csv (no training):

  python scripts/results_table.py [TABLES_DIR]

One markdown row per method of chapters 4 and 5: mIoU and pixel accuracy as mean ± the half-width of the 95 %
t-interval over the seeds, and each seed's mIoU; the seeds are named in the header line printed above it.
"""
import sys
from pathlib import Path

import pandas as pd

from thesislib.report.tables import t_interval
from thesislib.report.thesis import read_table

ROWS = {"source_only": "source only (GTA5-like)", "fda": "FDA (β = 0.01)",
        "translated": "CycleGAN-translated source (the teacher)",
        "adversarial_output": "teacher + output-level adversarial",
        "adversarial_feature": "teacher + feature-level adversarial", "entropy": "teacher + entropy minimisation",
        "control": "control: the same student rounds without pseudo-labels",
        "empty_stream": "empty-stream control: the same batches, every pseudo-label ignored",
        "self_training": "**self-training (the thesis' method)**", "oracle": "oracle (target labels)"}


def mean_half(values: pd.Series) -> str:
    """'24.2 ± 2.8': the mean and the half-width of its 95 % t-interval over the seeds."""
    d = t_interval(values)
    return f"{d['mean']:.1f} ± {d['high'] - d['mean']:.1f}"


def per_seed(tables: Path) -> pd.DataFrame:
    """Long frame row, seed, metric (miou | pixel_accuracy), value: chapter 4's rows and chapter 5's controls."""
    per_class = read_table(tables / "table_4_4_per_class_iou.csv")[0]
    ch4 = per_class[per_class["class"].isin(["mIoU", "pixel accuracy"])]
    ch4 = ch4.assign(metric=ch4["class"].map({"mIoU": "miou", "pixel accuracy": "pixel_accuracy"}), value=ch4["iou"])
    ch5 = read_table(tables / "table_self_training.csv")[0]
    ch5 = ch5[ch5["row"].isin(["control", "empty_stream"])]
    return pd.concat([ch4, ch5])[["row", "seed", "metric", "value"]]


if __name__ == "__main__":
    raw = per_seed(Path(sys.argv[1] if len(sys.argv) > 1 else "tables"))
    seeds = sorted(raw["seed"].unique())
    print(f"mean ± 95 % t-interval half-width over seeds {', '.join(map(str, seeds))}\n")
    print("| method | mIoU | pixel acc. | mIoU per seed |\n|---|---|---|---|")
    for row, name in ROWS.items():
        part = raw[raw["row"] == row]
        if part.empty:
            continue
        miou = part[part["metric"] == "miou"].set_index("seed")["value"].sort_index()
        acc = part[part["metric"] == "pixel_accuracy"]["value"]
        mark = "**" if row == "self_training" else ""
        print(f"| {name} | {mark}{mean_half(miou)}{mark} | {mean_half(acc)} | "
              f"{', '.join(f'{v:.1f}' for v in miou)} |")
