"""Redraw the chart figures of an export folder from the CSVs beside them (no training, no data): the
per-class IoU bars, the self-training rounds, the data-dependency curve and the class frequencies.
The image figures and the pseudo-label quality figure need the cached results: `make figures`.

    PYTHONPATH=. .venv/bin/python scripts/redraw_charts.py [EXPORTS_DIR]      # default: the repository
"""
import sys
from pathlib import Path

import pandas as pd

from thesislib.report import figures, style
from thesislib.report.thesis import PER_CLASS_METHODS


def main(root: Path) -> None:
    tables, figs = root / "tables", root / "figures"
    st = pd.read_csv(tables / "table_self_training.csv")
    st = st[st["method"] != "self-training round"]
    ref = lambda prefix, seeds=None: st[st["method"].str.startswith(prefix) & (st["metric"] == "miou")
                                        & (st["seed"].isin(seeds) if seeds is not None else True)]["value"].mean()
    pc = pd.read_csv(tables / "table_4_4_per_class_iou.csv")
    mean = pc[pc["class"] != "pixel accuracy"].groupby(["class", "method"], sort=False)["iou"].mean().unstack("method")
    from thesislib.data.labels import CLASS_NAMES
    mean = mean.reindex(index=CLASS_NAMES + ["mIoU"], columns=[m for m in PER_CLASS_METHODS if m in mean.columns])
    style.save(figures.per_class_iou(mean), "fig_per_class_iou", figs)
    curve = pd.read_csv(figs / "fig_self_training_rounds.csv")
    style.save(figures.rounds_curve(curve, references={"source only (GTA5)": ref("Source only"),
                                                       "oracle (target labels)": ref("Oracle")}),
               "fig_self_training_rounds", figs)
    dd = pd.read_csv(tables / "table_data_dependency.csv")
    seeds = sorted(dd["seed"].unique())
    style.save(figures.data_dependency(dd, references={"no target labels: self-training": ref("Self-training", seeds),
                                                       "no target labels: teacher only": ref("CycleGAN", seeds)}),
               "fig_data_dependency", figs)
    shares = pd.read_csv(figs / "fig_class_frequency.csv", index_col="class")
    style.save(figures.class_frequency({c: shares[c].to_numpy() for c in shares.columns}), "fig_class_frequency", figs)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
