"""The thesis' tables and figures, one function each: what a notebook cell calls.

Each function reads its rows through thesislib.runs.plan (the stage of every row and seed) and their numbers
through the Lab, writes `<name>.csv` (the raw numbers of every seed, each row naming its stage) with
`<name>.tex` rendered from it (thesislib.report.thesis), or `<name>.pdf`/`.png` (shown inline, and a chart's
numbers as `<name>.csv`), into the folders of `out` (an `Exports`), and returns what the notebook shows. Every
file's header or metadata names the notebook and the function here that made it; `thesislib.runs.stages`
names the trainer of each stage kind.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thesislib.data.labels import CLASS_NAMES
from thesislib.io import atomic_write_text
from thesislib.report import figures, style
from thesislib.report.tables import (ST_DIFFERENCES, aggregate, git_commit, interval_text, mean_std_frame,
                                     paired_difference, plain_text, reference)
from thesislib.report.text import figure_caption
from thesislib.report.thesis import csv_header, write_thesis_table
from thesislib.runs import plan
from thesislib.runs.stages import S


@dataclass
class Exports:
    """Where a notebook's tables and figures go, in which language, and the key numbers it hands to a sweep."""
    tables_dir: Path
    figures_dir: Path
    lang: str = "en"
    notebook: str = ""
    results: dict = field(default_factory=dict)

    def provenance(self, lab, function: str) -> dict:
        return {"made_by": f"notebooks/{self.notebook}.ipynb -> thesislib.runs.chapters.{function}",
                "commit": git_commit(), **lab.provenance}

    def table(self, lab, raw: pd.DataFrame, name: str, function: str) -> None:
        write_thesis_table(raw, name, self.tables_dir, self.provenance(lab, function), self.lang)

    def figure(self, lab, fig, name: str, function: str, data: pd.DataFrame | None = None) -> None:
        """Save a figure, its lettering in the export's language and its provenance in the files' metadata,
        with its numbers (`data`) as `<name>.csv` under a table's header; show it inline in a notebook."""
        provenance = self.provenance(lab, function)
        style.save(figures.lettered(fig, self.lang), name, self.figures_dir, provenance=provenance)
        if data is not None:
            atomic_write_text(self.figures_dir / f"{name}.csv",
                              csv_header(name, provenance, self.lang) + data.to_csv(index=False))
        show(fig, alt=plain_text(figure_caption(name, self.lang)))
        figures.close(fig)


def show(fig, dpi: int = 110, alt: str | None = None) -> None:
    """Display `fig` as a PNG in the notebook (or IPython) running this, whatever the matplotlib backend, with
    `alt` as its alternative text (for screen readers; nbconvert's classic HTML template reads it); nothing elsewhere."""
    from IPython import get_ipython
    if get_ipython() is not None:
        import io

        from IPython.display import Image, display
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=dpi)
        display(Image(png.getvalue()), metadata={"image/png": {"alt": alt}} if alt else None)


def _val_rows(lab, rows: dict, **columns) -> list[dict]:
    """One dict per (row, seed) of a plan's rows of val scores: row, seed, stage and the scores."""
    out = []
    for row, per_seed in rows.items():
        for seed, stage in per_seed.items():
            out.append({"row": row, "seed": seed, "stage": str(stage["model"]), "scores": lab.result(stage),
                        **columns})
    return out


def _differences(out: "Exports", raw: pd.DataFrame, pairs, words: dict, key: str = "") -> pd.DataFrame:
    """Paired mIoU differences of a long frame (columns row, seed, miou), each with its 95 % interval over the
    seeds and whether it is a finding (the interval excludes 0); into `out.results` as miou_{key}{a}_minus_{b}."""
    shown = {}
    for a, b in pairs:
        d = paired_difference(raw, a, b, value="miou")
        shown[f"{words[a]} − {words[b]}"] = {"mIoU difference [95 % interval]": interval_text(d), "seeds": d["seeds"],
                                            "finding": "yes" if d["finding"] else "no"}
        out.results.update({f"miou_{key}{a}_minus_{b}{suffix}": d[k]
                            for suffix, k in (("", "mean"), ("_low", "low"), ("_high", "high"))})
    return pd.DataFrame.from_dict(shown, orient="index")


# ---------------------------------------------------------------- 01 datasets
def datasets_table(lab, out: Exports) -> pd.DataFrame:
    """Table 4.1 from the check-data statistics of the data root (no stage)."""
    from thesislib.data.check import load_class_counts
    root, raw, shown = lab.data(), [], []
    for kind, name, role in (("gta5", "GTA5", "source"), ("cityscapes", "Cityscapes", "target")):
        check = json.loads((root / kind / "thesislib-check.json").read_text())
        summary, counts = check["summary"], load_class_counts(root / kind / "thesislib-check.json")
        present = int((np.sum(list(counts.values()), axis=0) > 0).sum())
        size = max(summary["image_sizes"], key=summary["image_sizes"].get)
        for split, v in summary["splits"].items():
            raw.append({"dataset": name, "split": split, "images": v["images"], "usable": v["images"] - v["excluded"],
                        "labeled": v["labeled"], "excluded": v["excluded"], "classes_present": present,
                        "image_size": size})
        labeled = sum(r["usable"] for r in raw if r["dataset"] == name and r["labeled"])
        unlabeled = sum(r["usable"] for r in raw if r["dataset"] == name and not r["labeled"])
        shown.append({"Dataset": name, "Role": role, "# labeled": labeled, "# unlabeled": unlabeled,
                      "# classes": present, "Image size": size.replace("x", "×"), "Excluded pairs": summary["excluded"]})
        out.results.update({f"{kind}_labeled": labeled, f"{kind}_unlabeled": unlabeled, f"{kind}_classes": present})
    out.table(lab, pd.DataFrame(raw), "table_4_1_datasets", "datasets_table")
    return pd.DataFrame(shown).set_index("Dataset")


def samples_figure(lab, out: Exports, n_samples: int = 3, display_hw=(128, 256)) -> None:
    """Source and target images with their labels over them."""
    spread = lambda d: [d[int(i)] for i in np.linspace(0, len(d) - 1, n_samples).round()]  # noqa: E731
    size = tuple(display_hw)
    source = [(s["image"], s["mask"]) for s in spread(lab.dataset("gta5", size=size))]
    target = [(t["image"], t["mask"]) for t in spread(lab.dataset("train", size=size))]
    out.figure(lab, figures.sample_grid(source, target), "fig_samples", "samples_figure")


def class_frequency_figure(lab, out: Exports) -> pd.DataFrame:
    """Share of labeled pixels per class in the source and the target splits (fig_class_frequency)."""
    from thesislib.data.check import load_class_counts
    root = lab.data()
    counts = {k: load_class_counts(root / k / "thesislib-check.json") for k in ("gta5", "cityscapes")}
    domains = {"source (GTA5)": counts["gta5"]}
    for split in ("train", "val"):
        part = {k: v for k, v in counts["cityscapes"].items() if k.split("/")[1] == split}
        if part:
            domains[f"target {split}"] = part
    shares = pd.DataFrame({d: 100 * np.sum(list(c.values()), axis=0) / np.sum(list(c.values()))
                           for d, c in domains.items()}, index=CLASS_NAMES).round(3)
    out.figure(lab, figures.class_frequency(domains), "fig_class_frequency", "class_frequency_figure",
               data=shares.rename_axis("class").reset_index())
    return shares.T


# ---------------------------------------------------------------- 02 translation
def translation_figure(lab, out: Exports, n_samples: int = 3, fda_beta: float = plan.FDA_BETA) -> pd.DataFrame:
    """Source | CycleGAN | FDA | target images (the first seed's CycleGAN), and how far each set's colours are
    from the target's (per-channel mean and std over 64 images)."""
    from thesislib.data.transforms import image_to_float
    from thesislib.methods.fda import fda_source_to_target
    stage = plan.translation_figure(lab.profile)["cyclegan"][lab.seeds[0]]
    lab.result(stage)
    hw = tuple(lab.profile.gan_hw)
    source, translated, target = (lab.dataset(n, size=hw, cyclegan=stage) for n in ("gta5", "translated", "train"))
    index = {Path(n).name: i for i, n in enumerate(translated.names)}
    pairs = [i for i in range(len(source)) if Path(source.names[i]).name in index]
    image = lambda ds, i: image_to_float(ds[i]["image"])  # noqa: E731
    twin = lambda i: image(translated, index[Path(source.names[i]).name])  # noqa: E731
    fda = lambda s, t: fda_source_to_target(s[None], t[None], beta=fda_beta)[0].clamp(0, 1)  # noqa: E731
    rows = []
    for r, i in enumerate(pairs[int(k)] for k in np.linspace(0, len(pairs) - 1, n_samples).round()):
        trg = image(target, (r * 7) % len(target))
        rows.append([image(source, i), twin(i), fda(image(source, i), trg), trg])
    out.figure(lab, figures.translation_samples(rows), "fig_translation", "translation_figure")
    ids = [pairs[int(k)] for k in np.linspace(0, len(pairs) - 1, min(len(pairs), 64)).round()]
    targets = [image(target, k % len(target)) for k in range(len(ids))]
    sets = {"source (GTA5)": [image(source, i) for i in ids], "CycleGAN (source→target)": [twin(i) for i in ids],
            f"FDA (beta={fda_beta})": [fda(image(source, i), t) for i, t in zip(ids, targets)],
            "target (Cityscapes train)": targets}
    stats = {n: np.concatenate([(x := np.stack([np.asarray(im, np.float64) for im in imgs])).mean(axis=(0, 2, 3)),
                                x.std(axis=(0, 2, 3))]) for n, imgs in sets.items()}
    ref = stats["target (Cityscapes train)"]
    colour = pd.DataFrame({n: {**dict(zip(["mean R", "mean G", "mean B", "std R", "std G", "std B"], s.round(3))),
                               "distance to target": float(np.linalg.norm(s - ref).round(4))}
                           for n, s in stats.items()}).T
    out.results.update({"colour_gap_source": colour.iloc[0]["distance to target"],
                        "colour_gap_cyclegan": colour.iloc[1]["distance to target"],
                        "colour_gap_fda": colour.iloc[2]["distance to target"]})
    return colour


# ---------------------------------------------------------------- 03 direct transfer
DIRECT_SETS = {"gta5": "Source domain (GTA5)", "translated": "Source→Target (GTA5 in Cityscapes style, CycleGAN)",
               "val": "Target domain (Cityscapes val)"}


def direct_transfer_table(lab, out: Exports) -> pd.DataFrame:
    """Table 4.3: the oracle of each seed on the source, the translated source and target val."""
    raw = []
    for on, per_seed in plan.direct_transfer(lab.profile).items():
        for seed, stage in per_seed.items():
            m = lab.result(stage)
            raw += [{"evaluated_on": DIRECT_SETS[on], "set": on, "seed": seed, "stage": str(stage), "metric": metric,
                     "value": m[metric], "eval_images": m["eval_images"], "eval_hw": "x".join(map(str, m["eval_hw"]))}
                    for metric in ("pixel_accuracy", "miou")]
    raw = pd.DataFrame(raw)
    out.table(lab, raw, "table_4_3_direct_transfer", "direct_transfer_table")
    mean, std = aggregate(raw, "evaluated_on", "metric")
    out.results.update({f"{m}_{on}": mean.loc[DIRECT_SETS[on], m] for on in DIRECT_SETS for m in ("pixel_accuracy", "miou")})
    return mean_std_frame(mean.rename(columns={"pixel_accuracy": "Pixel accuracy", "miou": "mIoU"}),
                          std.rename(columns={"pixel_accuracy": "Pixel accuracy", "miou": "mIoU"}))


def direct_transfer_figure(lab, out: Exports, n_samples: int = 2) -> None:
    """Images, ground truth and the first seed's oracle's predictions on each domain."""
    from thesislib.inference import predict_probs
    seed = lab.seeds[0]
    model = lab.load_model(S("oracle", seed=seed), device="cpu")
    rows, titles = [], []
    for key, label in DIRECT_SETS.items():
        ds = lab.dataset(key, cyclegan=S("cyclegan", seed=seed))
        items = [ds[int(i)] for i in np.linspace(0, len(ds) - 1, n_samples).round()]
        pred = predict_probs(model, torch.stack([it["image"] for it in items])).argmax(1)
        rows += [[it["image"], it["mask"], p] for it, p in zip(items, pred)]
        titles += [label.split(" (")[0]] * len(items)
    out.figure(lab, figures.image_grid(rows, ["image", "ground truth", "target-trained model"], row_titles=titles),
               "fig_direct_transfer", "direct_transfer_figure")


# ---------------------------------------------------------------- 04 adaptation
PER_CLASS_NAMES = {"source_only": "GTA5", "translated": "GTA5→CS (CycleGAN)", "fda": "FDA",
                   "adversarial_output": "+ output adv.", "adversarial_feature": "+ feature adv.",
                   "entropy": "+ entropy min.", "self_training": "self-training (ours)", "oracle": "oracle"}


def per_class_table(lab, out: Exports) -> pd.DataFrame:
    """Table 4.4 and fig_per_class_iou: per-class IoU of every adaptation method (mean over seeds)."""
    raw = []
    for r in _val_rows(lab, plan.per_class(lab.profile)):
        val, method = r.pop("scores"), PER_CLASS_NAMES[r["row"]]
        raw += [{**r, "method": method, "class": c, "iou": val["iou"].get(c)} for c in CLASS_NAMES]
        raw += [{**r, "method": method, "class": "mIoU", "iou": val["miou"]},
                {**r, "method": method, "class": "pixel accuracy", "iou": val["pixel_accuracy"]}]
    raw = pd.DataFrame(raw).astype({"iou": float})
    out.table(lab, raw, "table_4_4_per_class_iou", "per_class_table")
    mean, _ = aggregate(raw, "class", "method", value="iou")
    per_class = mean.drop(index="pixel accuracy")
    out.figure(lab, figures.per_class_iou(per_class), "fig_per_class_iou", "per_class_table")
    out.results.update({f"miou_{row}": mean.loc["mIoU", name] for row, name in PER_CLASS_NAMES.items()})
    return per_class.round(1)


ADAPTATION_DIFFERENCES = (("translated", "source_only"), ("fda", "source_only"), ("adversarial_output", "translated"),
                          ("adversarial_feature", "translated"), ("entropy", "translated"),
                          ("self_training", "translated"), ("self_training", "adversarial_feature"))
ADAPTATION_WORDS = {"source_only": "source only", "translated": "translated source (teacher)", "fda": "FDA",
                    "adversarial_output": "output-level adversarial", "adversarial_feature": "feature-level adversarial",
                    "entropy": "entropy minimisation", "self_training": "self-training"}


def adaptation_differences(lab, out: Exports) -> pd.DataFrame:
    """What each adaptation method adds to what it starts from, paired by seed (a seed's rows share its CycleGAN
    and teacher), with the 95 % interval: a finding only when it excludes 0."""
    raw = pd.DataFrame([{**r, "miou": r.pop("scores")["miou"]} for r in _val_rows(lab, plan.per_class(lab.profile))])
    return _differences(out, raw, ADAPTATION_DIFFERENCES, ADAPTATION_WORDS)


# ---------------------------------------------------------------- 05 self-training
def self_training_table(lab, out: Exports, options: dict | None = None) -> pd.DataFrame:
    """The self-training table: source only, the teacher, the control, the empty-stream control,
    self-training, the oracle (mean ± std over seeds), then the paired differences with their 95 % intervals."""
    raw, rows = [], plan.self_training_table(lab.profile, options)
    for r in _val_rows(lab, rows):
        val = r.pop("scores")
        raw += [{**r, "metric": m, "value": val[m]} for m in ("miou", "pixel_accuracy")]
    raw = pd.DataFrame(raw)
    out.table(lab, raw, "table_self_training", "self_training_table")
    mean, std = aggregate(raw, "row", "metric")
    out.results.update({f"miou_{row}": mean.loc[row, "miou"] for row in mean.index})
    shown = mean_std_frame(mean, std)
    for a, b in ST_DIFFERENCES:
        d = {m: paired_difference(raw[raw["metric"] == m], a, b) for m in ("miou", "pixel_accuracy")}
        shown.loc[f"{a} − {b}"] = [interval_text(d[m]) for m in shown.columns]
        out.results.update({f"miou_{a}_minus_{b}": d["miou"]["mean"], f"miou_{a}_minus_{b}_low": d["miou"]["low"],
                            f"miou_{a}_minus_{b}_high": d["miou"]["high"]})
    miou = raw[raw["metric"] == "miou"].pivot_table(index="seed", columns="row", values="value")
    gap = 100 * (miou["self_training"] - miou["source_only"]) / (miou["oracle"] - miou["source_only"])
    out.results["gap_closed_percent"] = gap.mean()
    iou = {row: pd.DataFrame([lab.result(s)["iou"] for s in rows[row].values()]).mean()
           for row in ("teacher", "self_training")}
    drop = (iou["teacher"] - iou["self_training"])[iou["teacher"] >= 30]       # the classes the teacher has learned
    out.results["classes_dropping_over_3"] = sorted(drop[drop > 3].index)
    return shown


def self_training_goals(out: Exports) -> pd.DataFrame:
    """Chapter 5's goals (docs/results.md) against the numbers `self_training_table` put into `out.results`."""
    r = out.results

    def diff(a, b):
        return {k: r[f"miou_{a}_minus_{b}{suffix}"] for k, suffix in (("mean", ""), ("low", "_low"), ("high", "_high"))}
    st_control, st_teacher = diff("self_training", "control"), diff("self_training", "teacher")
    dropped = r["classes_dropping_over_3"]
    rows = [("self-training − control ≥ 2 mIoU, its 95 % interval above 0", interval_text(st_control),
             st_control["mean"] >= 2 and st_control["low"] > 0),
            ("student − teacher ≥ 4 mIoU", interval_text(st_teacher), st_teacher["mean"] >= 4),
            ("≥ 42 % of the source-only → oracle gap closed (BDL on the real task)",
             f"{r['gap_closed_percent']:.0f} %", r["gap_closed_percent"] >= 42),
            ("no class the teacher has learned (IoU ≥ 30) loses more than 3 IoU", ", ".join(dropped) or "none",
             not dropped)]
    return pd.DataFrame(rows, columns=["goal", "measured", "met"]).set_index("goal")


def self_training_rounds(lab, options: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(mIoU per round and seed, pseudo-label quality per round and seed, the same per class)."""
    curve = pd.DataFrame([{"round": r["row"], "seed": r["seed"], "stage": r["stage"], "miou": r["scores"]["miou"],
                           "pixel_accuracy": r["scores"]["pixel_accuracy"]}
                          for r in _val_rows(lab, plan.self_training_rounds(lab.profile, options))])
    quality, per_class = [], []
    for seed in lab.seeds:
        stage = plan.adaptation_stage("self_training", seed, options)
        for r in lab.result(stage)["rounds"]:
            q = r["pseudo_labels"]
            quality.append({"seed": seed, "round": r["round"], "stage": str(stage), "precision": q["overall_precision"],
                            "class_mean_precision": q.get("class_mean_precision"), "coverage": q["overall_coverage"],
                            "loss_weighted_precision": q["loss_weighted_precision"]})
            per_class += [{"seed": seed, "round": r["round"], "class": c, "precision": q["precision"].get(c),
                           "coverage": q["coverage"].get(c)} for c in CLASS_NAMES]
    return curve, pd.DataFrame(quality), pd.DataFrame(per_class).astype({"precision": float, "coverage": float})


def self_training_figures(lab, out: Exports, options: dict | None = None) -> pd.DataFrame:
    """fig_self_training_rounds (with the source-only model and the oracle) and fig_pseudo_label_quality."""
    curve, quality, per_class = self_training_rounds(lab, options)
    bounds = plan.self_training_table(lab.profile, options)
    ref = {name: np.mean([lab.result(s)["miou"] for s in bounds[row].values()])
           for row, name in (("source_only", "source only (GTA5)"), ("control", "control (no pseudo-labels)"),
                             ("empty_stream", "empty-stream control"), ("oracle", "oracle (target labels)"))}
    out.figure(lab, figures.rounds_curve(curve, references=ref), "fig_self_training_rounds", "self_training_figures",
               data=curve)
    out.figure(lab, figures.pseudo_label_quality(quality, per_class), "fig_pseudo_label_quality",
               "self_training_figures", data=per_class)
    last = quality[quality["round"] == quality["round"].max()]
    out.results.update({"pseudo_label_precision_last": last["precision"].mean(),
                        "pseudo_label_coverage_last": last["coverage"].mean()})
    out.results["pseudo_label_class_mean_precision_last"] = last["class_mean_precision"].mean()
    return quality.groupby("round")[["precision", "class_mean_precision", "coverage",
                                     "loss_weighted_precision"]].mean().round(2)


def predictions_figure(lab, out: Exports, options: dict | None = None, n_samples: int = 3) -> None:
    """Target val images, ground truth, the first seed's teacher and student."""
    from thesislib.inference import predict_probs
    models = {k: next(iter(v.values())) for k, v in plan.predictions_figure(lab.profile, options).items()}
    val = lab.dataset("val")
    items = [val[int(i)] for i in np.linspace(0, len(val) - 1, n_samples).round()]
    images = torch.stack([it["image"] for it in items])
    preds = {k: predict_probs(lab.load_model(s, device="cpu"), images).argmax(1) for k, s in models.items()}
    rounds = len(lab.result(models["student"])["rounds"])
    titles = ["image", "ground truth", "teacher (round 0)", f"student (round {rounds})"]
    out.figure(lab, figures.prediction_panel([[it["image"], it["mask"], t, s] for it, t, s
                                              in zip(items, preds["teacher"], preds["student"])], titles=titles),
               "fig_predictions", "predictions_figure")


# ---------------------------------------------------------------- 06 data dependency
def label_visits(lab, stage) -> int:
    """Labeled target crops a stage's training saw (its teacher's included), per labeled image."""
    p, kind = lab.profile, stage.kind
    if kind in ("oracle", "joint", "finetuned"):
        return p.steps * p.batch_size
    if kind == "self_training":
        from thesislib.runs.stages import self_training_config
        c = self_training_config(stage, p)
        own = sum(c.batch(p, k)[2] for k in range(1, c.rounds + 1)) * c.steps
        return own + label_visits(lab, stage.needs["teacher"])
    return 0


DD_WORDS = {"labeled_only": "labeled only", "joint": "S+T (translated source + labels)",
            "finetuned": "translated model fine-tuned", "target_ssl": "target-only self-training",
            "loop": "synthetic teacher + self-training", "loop_control": "the loop's control (no pseudo-labels)"}


def _data_dependency_rows(lab) -> tuple[pd.DataFrame, dict]:
    """One row per (way of using the labels, labeled fraction, seed) with its label visits; and the mIoU of the
    references without target labels, {row: [per seed]}."""
    n_train = len(lab.dataset("train"))
    raw, refs = [], {}
    for (row, f), per_seed in plan.data_dependency(lab.profile).items():
        for seed, stage in per_seed.items():
            val = lab.result(stage)
            if f is None:
                refs.setdefault(row, []).append(val["miou"])
                continue
            n = max(1, round(f * n_train))
            raw.append({"row": row, "fraction": f, "labeled_images": n, "seed": seed, "stage": str(stage["model"]),
                        "visits_per_image": round(label_visits(lab, stage["model"]) / n, 1),
                        "miou": val["miou"], "pixel_accuracy": val["pixel_accuracy"]})
    return pd.DataFrame(raw), refs


def data_dependency_table(lab, out: Exports) -> pd.DataFrame:
    """The data-dependency table and figure: each baseline at each labeled fraction, with its label visits."""
    raw, refs = _data_dependency_rows(lab)
    out.table(lab, raw, "table_data_dependency", "data_dependency_table")
    references = {"no target labels: self-training": np.mean(refs["self_training"]),
                  "no target labels: teacher only": np.mean(refs["teacher"])}
    shown = raw.assign(method=raw["row"].map(DD_WORDS))
    out.figure(lab, figures.data_dependency(shown, hue="method", references=references), "fig_data_dependency",
               "data_dependency_table")
    mean, std = aggregate(raw, "fraction", "row", value="miou")
    out.results.update({f"miou_{row}_{f:g}": mean.loc[f, row] for f in mean.index for row in mean.columns
                        if pd.notna(mean.loc[f, row])})
    shown = mean_std_frame(mean, std).rename(columns=DD_WORDS, index=figures.fraction_label)
    return shown.rename_axis(index="labeled share", columns=None)


DD_DIFFERENCES = (("joint", "labeled_only"), ("finetuned", "labeled_only"), ("target_ssl", "labeled_only"),
                  ("loop", "labeled_only"), ("loop", "joint"), ("loop", "target_ssl"), ("loop", "loop_control"))


def data_dependency_differences(lab, out: Exports) -> pd.DataFrame:
    """At each labeled fraction, what synthetic data, fine-tuning, unlabeled real images and the thesis' loop add,
    paired by seed, with the 95 % interval: a finding only when it excludes 0."""
    raw, _ = _data_dependency_rows(lab)
    parts = []
    for f, part in raw.groupby("fraction"):
        pairs = [(a, b) for a, b in DD_DIFFERENCES if {a, b} <= set(part["row"])]
        share = "all labels" if f == 1 else figures.fraction_label(f)
        parts.append(_differences(out, part, pairs, DD_WORDS, key=f"{f:g}_").rename(index=lambda r: f"{share}: {r}"))
    return pd.concat(parts).rename_axis("labeled share: difference")


# ---------------------------------------------------------------- 07 comparison
COMPARISON = {"source_only": ("Source only", "baseline"), "translated": ("CycleGAN (pixel-level only)", "input-level"),
              "fda": ("FDA", "input-level Fourier"),
              "adversarial_output": ("CycleGAN + output-level adversarial", "output-level adversarial"),
              "adversarial_feature": ("CycleGAN + feature-level adversarial", "feature-level adversarial"),
              "entropy": ("CycleGAN + entropy minimisation", "entropy"),
              "self_training": ("Synthetic teacher + self-training (thesis)", "translation + self-training"),
              "oracle": ("Oracle (target labels)", "supervised")}


def _ours_benchmark(lab) -> str:
    enc = lab.profile.encoder
    return (f"Cityscapes val ({lab.data_root.name}/), DeepLabV3+ {enc}" if not lab.embedded
            else f"embedded world, profile {lab.profile.name}, DeepLabV3+ {enc}")


def published_comparison_table(lab, out: Exports) -> pd.DataFrame:
    """Published GTA5 -> Cityscapes results beside this package's methods (mean over seeds)."""
    rows = [{"Method": r.method, "Family": r.family, "Benchmark": f"Cityscapes val, {r.backbone}", "mIoU": r.miou,
             "Source": r.source, "row": "", "stage": ""} for r in reference("published_gta5_to_cityscapes").itertuples()]
    for row, per_seed in plan.per_class(lab.profile).items():
        method, family = COMPARISON[row]
        rows.append({"Method": method, "Family": family, "Benchmark": _ours_benchmark(lab), "row": row,
                     "mIoU": float(np.mean([lab.result(s)["miou"] for s in per_seed.values()])),
                     "Source": "this package (thesislib)", "stage": "; ".join(str(s["model"]) for s in per_seed.values())})
    table = pd.DataFrame(rows)
    out.table(lab, table, "table_published_comparison", "published_comparison_table")
    out.results.update({f"miou_{r['row']}": r["mIoU"] for r in rows if r["row"]})
    return table.drop(columns=["row", "stage"]).set_index("Method").round({"mIoU": 1})     # as the thesis prints it


SEMI_ROWS = {"labeled_only": "Labeled only", "joint": "S+T (translated source + labels)",
             "finetuned": "Translated-source model fine-tuned", "target_ssl": "Target-only self-training",
             "loop": "Synthetic teacher + self-training"}


def published_semisupervised_table(lab, out: Exports) -> pd.DataFrame:
    """Published semi-supervised results beside this package's data-dependency rows."""
    rows = [{"Method": r.method, "Benchmark": f"Cityscapes val, {r.backbone}", "Labeled images": int(r.labels),
             "mIoU": r.miou, "Source": r.source} for r in reference("published_cityscapes_semisupervised").itertuples()]
    n_train = len(lab.dataset("train"))
    for (row, f), per_seed in plan.data_dependency(lab.profile).items():
        if f is None or row not in SEMI_ROWS:                 # the references without labels; the loop's control
            continue
        rows.append({"Method": SEMI_ROWS[row], "Benchmark": f"{_ours_benchmark(lab)} ({len(per_seed)} seed(s))",
                     "Labeled images": max(1, round(f * n_train)), "Source": "this package (thesislib)",
                     "mIoU": float(np.mean([lab.result(s)["miou"] for s in per_seed.values()]))})
    semi = pd.DataFrame(rows)
    out.table(lab, semi, "table_published_semisupervised", "published_semisupervised_table")
    return semi.set_index("Method").round({"mIoU": 1})


def reported_vs_reproduced_tables(lab, out: Exports) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The thesis draft's numbers beside the reproduced ones: per-class IoU (source only, translated) and
    direct transfer; and whether each effect keeps its direction."""
    reported = reference("thesis_reported")
    repro = {}
    for on, per_seed in plan.direct_transfer(lab.profile).items():
        setting = {"gta5": "source", "translated": "source_to_target", "val": "target"}[on]
        for metric in ("pixel_accuracy", "miou"):
            repro[("direct_transfer", setting, metric, "")] = np.mean([lab.result(s)[metric] for s in per_seed.values()])
    rows = plan.per_class(lab.profile)
    for setting, row in (("gta5", "source_only"), ("gta5_cyclegan", "translated")):
        vals = [lab.result(s) for s in rows[row].values()]
        repro[("domain_adaptation", setting, "miou", "")] = np.mean([v["miou"] for v in vals])
        for c in CLASS_NAMES:
            repro[("domain_adaptation", setting, "iou", c)] = np.mean([np.nan if v["iou"].get(c) is None else v["iou"][c]
                                                                       for v in vals])
    long = reported.fillna({"class": ""}).rename(columns={"value": "reported"})
    long["reproduced"] = [repro.get(k) for k in zip(long["experiment"], long["setting"], long["metric"], long["class"])]
    long["benchmark_reported"] = "Cityscapes val, DeepLabV3+ ResNet-50 (thesis draft)"
    long["benchmark_reproduced"] = _ours_benchmark(lab)
    da, dt = long[long["experiment"] == "domain_adaptation"], long[long["experiment"] == "direct_transfer"]
    out.table(lab, long, "table_reported_vs_reproduced", "reported_vs_reproduced_tables")
    out.table(lab, dt, "table_reported_vs_reproduced_direct", "reported_vs_reproduced_tables")
    get = lambda e, s: repro[(e, s, "miou", "")]  # noqa: E731
    checks = pd.Series({
        "direct transfer: source < source→target < target (mIoU)":
            get("direct_transfer", "source") < get("direct_transfer", "source_to_target") < get("direct_transfer", "target"),
        "translation improves mIoU over source-only": get("domain_adaptation", "gta5_cyclegan") > get("domain_adaptation", "gta5"),
    }, name="holds here")
    out.results.update({"holds_direct_transfer_order": bool(checks.iloc[0]), "holds_translation_helps": bool(checks.iloc[1])})
    da = da.assign(row=np.where(da["metric"] == "miou", "mIoU", da["class"]))
    per_class = da.pivot_table(index="row", columns="setting", values=["reported", "reproduced"], sort=False)
    direct = dt.pivot_table(index="setting", columns="metric", values=["reported", "reproduced"], sort=False)
    return per_class.reindex(CLASS_NAMES + ["mIoU"]).round(2), direct.round(2), checks
