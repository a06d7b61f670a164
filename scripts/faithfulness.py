"""How far the exported tables are of the thesis' kind, read from tables/*.csv (no training):

  python scripts/faithfulness.py [TABLES_DIR]

classes the oracle learns, the source-only / oracle ratio, the ordering source-only < translated < self-training
<= oracle per seed, the share of the gap self-training closes, each data-dependency row per labeled share, and every
paired difference the README names with its 95 % interval over the seeds (a finding only when it excludes 0).
"""
import sys
from pathlib import Path

from thesislib.report.tables import interval_text, t_interval
from thesislib.runs.chapters import DD_DIFFERENCES
from thesislib.report.thesis import read_table

tables = Path(sys.argv[1] if len(sys.argv) > 1 else "tables")
per_class = read_table(tables / "table_4_4_per_class_iou.csv")[0]
miou = per_class[per_class["class"] == "mIoU"].pivot(index="seed", columns="row", values="iou")
iou = per_class[~per_class["class"].isin(["mIoU", "pixel accuracy"])]
oracle = iou[iou["row"] == "oracle"].groupby("class")["iou"].mean()
print(f"oracle (mean of {miou.shape[0]} seeds): IoU >= 10 on {int((oracle >= 10).sum())} of 19 classes, "
      f"> 0 on {int((oracle > 0).sum())}; lowest: {oracle.nsmallest(3).round(1).to_dict()}")
so, tr, orc = miou["source_only"], miou["translated"], miou["oracle"]
print(f"source-only / oracle: {so.mean() / orc.mean():.3f} (per seed {(so / orc).round(3).tolist()})")
st_table = read_table(tables / "table_self_training.csv")[0]
st = st_table[st_table["metric"] == "miou"].pivot(index="seed", columns="row", values="value")
print("ordering source-only < translated < self-training <= oracle per seed:",
      ((so < tr) & (tr < st["self_training"]) & (st["self_training"] <= orc)).tolist())
for ref in ("teacher", "control"):
    gain = st["self_training"] - st[ref]
    print(f"self-training - {ref}: {gain.mean():+.2f} (per seed {gain.round(2).tolist()})")
closed = (st["self_training"] - so) / (orc - so) * 100
print(f"gap closed by self-training: {(st['self_training'].mean() - so.mean()) / (orc.mean() - so.mean()) * 100:.1f} % "
      f"(per seed {closed.round(1).tolist()}); by the control: "
      f"{(st['control'].mean() - so.mean()) / (orc.mean() - so.mean()) * 100:.1f} %")
src = iou[iou["row"] == "source_only"].groupby("class")["iou"].mean()
trn = iou[iou["row"] == "translated"].groupby("class")["iou"].mean()
print(f"translated beats source-only on {int((trn > src).sum())} of 19 classes")
dd = read_table(tables / "table_data_dependency.csv")[0]
full = dd[(dd["fraction"] == 1.0) & (dd["row"] == "labeled_only")]["miou"].mean()
for (f, row), part in dd.groupby(["fraction", "row"], sort=False):
    print(f"fraction {f:g} ({int(part['labeled_images'].iloc[0])} images), {row}: {part['miou'].mean():.2f} "
          f"± {part['miou'].std(ddof=1):.2f} over {part['seed'].nunique()} seeds (per seed "
          f"{part['miou'].round(1).tolist()}), {part['visits_per_image'].iloc[0]:g} visits per labeled image; "
          f"{part['miou'].mean() / full:.2f} of labeled-only with all labels")

# which differences are findings: the same seed's two rows (one CycleGAN, one teacher), paired by seed
print("paired differences, mean [95 % t-interval over the seeds] (a finding only when the interval excludes 0):")
pairs = {"translated - source only": (miou["translated"], so), "FDA - source only": (miou["fda"], so),
         "self-training - teacher": (st["self_training"], st["teacher"]),
         "self-training - control": (st["self_training"], st["control"]),
         "control - teacher": (st["control"], st["teacher"])}
if "empty_stream" in st:
    pairs.update({"self-training - empty-stream control": (st["self_training"], st["empty_stream"]),
                  "empty-stream control - control": (st["empty_stream"], st["control"])})
pairs.update({f"{m} - teacher": (miou[m], tr) for m in ("adversarial_output", "adversarial_feature", "entropy")})
pairs.update({f"self-training - {m}": (miou["self_training"], miou[m]) for m in ("adversarial_output", "adversarial_feature")})
dd_seed = dd.pivot_table(index=["fraction", "seed"], columns="row", values="miou")
for f, part in dd_seed.groupby(level=0):
    for a, b in DD_DIFFERENCES:                       # the pairs notebook 06 reports
        if a in part and b in part and part[a].notna().all():
            pairs[f"1/{round(1 / f)}: {a} - {b}" if f < 1 else f"all labels: {a} - {b}"] = (part[a].droplevel(0),
                                                                                               part[b].droplevel(0))
for name, (a, b) in pairs.items():
    d = t_interval(a - b)                 # a and b indexed by seed: paired
    verdict = "finding" if d["finding"] else "not a finding"
    print(f"  {name}: {interval_text(d, 2)} over {d['seeds']} seeds, {verdict} (per seed {(a - b).dropna().round(1).tolist()})")
