"""How far the exported tables are of the thesis' kind (issue #9), read from tables/*.csv:

  python scripts/faithfulness.py [TABLES_DIR]

classes the oracle learns, the source-only / oracle ratio, label scarcity per fraction, the ordering
source-only < translated < self-training <= oracle per seed, and the share of the gap self-training closes.
"""
import sys
from pathlib import Path

import pandas as pd

tables = Path(sys.argv[1] if len(sys.argv) > 1 else "tables")
per_class = pd.read_csv(tables / "table_4_4_per_class_iou.csv")
miou = per_class[per_class["class"] == "mIoU"].pivot(index="seed", columns="method", values="iou")
iou = per_class[~per_class["class"].isin(["mIoU", "pixel accuracy"])]
oracle = iou[iou["method"] == "oracle"].groupby("class")["iou"].mean()
print(f"oracle (mean of {miou.shape[0]} seeds): IoU >= 10 on {int((oracle >= 10).sum())} of 19 classes, "
      f"> 0 on {int((oracle > 0).sum())}; lowest: {oracle.nsmallest(3).round(1).to_dict()}")
so, tr, st, orc = (miou[m] for m in ("GTA5", "GTA5→CS (CycleGAN)", "self-training (ours)", "oracle"))
print(f"source-only / oracle: {so.mean() / orc.mean():.3f} (per seed {(so / orc).round(3).tolist()})")
print("ordering source-only < translated < self-training <= oracle per seed:",
      ((so < tr) & (tr < st) & (st <= orc)).tolist())
closed = (st - so) / (orc - so) * 100
print(f"gap closed by self-training: {(st.mean() - so.mean()) / (orc.mean() - so.mean()) * 100:.1f} % "
      f"(per seed {closed.round(1).tolist()})")
src = iou[iou["method"] == "GTA5"].groupby("class")["iou"].mean()
trn = iou[iou["method"] == "GTA5→CS (CycleGAN)"].groupby("class")["iou"].mean()
print(f"translated beats source-only on {int((trn > src).sum())} of 19 classes")
dd = pd.read_csv(tables / "table_data_dependency.csv")
full = dd[(dd["fraction"] == 1.0) & (dd["method"] == "labeled only")]["miou"].mean()
for (f, method), part in dd.groupby(["fraction", "method"]):
    print(f"fraction {f:g} ({int(part['labeled_images'].iloc[0])} images), {method}: {part['miou'].mean():.2f} "
          f"± {part['miou'].std(ddof=1):.2f} over {part['seed'].nunique()} seeds = {part['miou'].mean() / full:.2f} of "
          f"labeled-only with all labels")
