"""The thesis' tables, rendered from their CSVs (the raw numbers every notebook writes) in one style.

`render(name, tables_dir, lang)` reads `tables_dir/<name>.csv` and writes `<name>.tex`: a `table` float
for a 15 cm text width at 11 pt that needs only `booktabs` (and `kotex` for `lang="ko"`). Captions and
headers come from `thesislib.report.text`. One number style: one decimal for every mIoU/IoU/accuracy,
"mean $\\pm$ std" where several seeds are shown, counts with thousands separators, sizes as W$\\times$H.
Bold follows `text.BOLD_RULE`: the best value of each metric among the methods without target labels,
compared as printed (so a tie of 0.0 is never bold).

Because the tables are rendered from the CSVs, `python -m thesislib.report.thesis --lang ko` re-renders
every table of an export folder in Korean without recomputing anything.
"""
import argparse
import datetime as _dt
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from thesislib.io import atomic_write_text
from thesislib.report import text as T
from thesislib.report.tables import git_commit, latex_escape

TABLES = ["table_4_1_datasets", "table_4_3_direct_transfer", "table_4_4_per_class_iou", "table_self_training",
          "table_data_dependency", "table_published_comparison", "table_published_semisupervised",
          "table_reported_vs_reproduced", "table_reported_vs_reproduced_direct"]
PRECISION = 1
NA = "--"
OURS = "this package (thesislib)"


# ---------------------------------------------------------------- numbers
def num(v, precision: int = PRECISION) -> str:
    """One number as printed: one decimal; NaN/None -> "--"."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or pd.isna(v):
        return NA
    return f"{float(v):.{precision}f}"


def count(v) -> str:
    return NA if v is None or pd.isna(v) else f"{int(v):,}"


def pm(values, precision: int = PRECISION) -> tuple[str, float]:
    """("mean $\\pm$ std" or the value, the mean as printed) of a seed list."""
    a = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if a.size == 0:
        return NA, np.nan
    m = round(float(a.mean()), precision)
    if a.size == 1:
        return f"{m:.{precision}f}", m
    return f"{m:.{precision}f} $\\pm$ {a.std(ddof=1):.{precision}f}", m


def best_flags(values, exclude=()) -> list[bool]:
    """True for the cells holding the best printed value (max) of a line; `exclude` positions never; no
    flag when every competing printed value is equal (e.g. all 0.0) or the best is 0.0."""
    v = np.array([np.nan if (i in exclude or x is None) else x for i, x in enumerate(values)], dtype=float)
    v = np.round(v, PRECISION)
    ok = np.isfinite(v)
    if ok.sum() < 2 or np.unique(v[ok]).size < 2:
        return [False] * len(v)
    top = np.nanmax(v)
    if top == 0:
        return [False] * len(v)
    return [bool(o and x == top) for o, x in zip(ok, v)]


def bold(cell: str, flag: bool) -> str:
    return f"\\textbf{{{cell}}}" if flag else cell


def seeds_text(seeds, lang, mean_only: bool = False) -> str:
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) == 1:
        return T.t("one_seed", lang, seed=seeds[0])
    return T.t("seeds_mean" if mean_only else "seeds", lang, n=len(seeds), seeds=", ".join(map(str, seeds)))


# ---------------------------------------------------------------- LaTeX
def table(caption: str, label: str, align: str, head: list, body: list, note: str | None = None,
          size: str | None = None) -> str:
    """A booktabs `table` float. head: header lines (strings, already joined with &) incl. cmidrules;
    body: rows (lists of cells), "\\midrule", or ("group", title, ncols) sub-headings."""
    lines = ["\\begin{table}[htbp]", "\\centering"]
    if size:
        lines.append(f"\\{size}")
    lines += [f"\\caption{{{caption}}}", f"\\label{{{label}}}", f"\\begin{{tabular}}{{{align}}}", "\\toprule"]
    lines += head
    lines.append("\\midrule")
    first = True
    for row in body:
        if isinstance(row, tuple) and row[0] == "group":
            if not first:
                lines.append("\\midrule")
            lines.append(f"\\multicolumn{{{row[2]}}}{{@{{}}l}}{{\\emph{{{row[1]}}}}} \\\\")
            lines.append(f"\\cmidrule(r){{1-{row[2]}}}")
        elif isinstance(row, str):
            lines.append(row)
        else:
            lines.append(" & ".join(row) + " \\\\")
        first = False
    lines += ["\\bottomrule", "\\end{tabular}"]
    if note:
        lines += ["\\par\\smallskip", f"{{\\footnotesize\\raggedright {note}\\par}}"]
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def plain_table(df: pd.DataFrame, caption: str, label: str, precision: int = 2) -> str:
    """Any frame as a table in the same style (a sweep's results): numbers with `precision` decimals, text
    escaped, a column of numbers right-aligned."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    body = [[num(v, precision) if isnum else latex_escape(v) for v, isnum in zip(row, numeric)]
            for row in df.itertuples(index=False)]
    head = [" & ".join(latex_escape(c) for c in df.columns) + " \\\\"]
    return table(latex_escape(caption), label, "".join("r" if n else "l" for n in numeric), head, body)


# ---------------------------------------------------------------- context
class Context:
    """What a caption needs beyond the CSV: profile (model, resolutions), data (stand-in or real), seeds."""

    def __init__(self, provenance: dict, lang: str):
        from thesislib.profiles import get_profile
        self.lang = T.check_lang(lang)
        self.provenance = provenance
        overrides = provenance.get("overrides") or {}
        try:
            self.profile = get_profile(provenance.get("profile", "default"), **overrides)
        except ValueError:
            self.profile = get_profile("default")
        self.embedded = "embedded" in str(provenance.get("data_root", "embedded world"))
        seeds = provenance.get("seeds") or list(self.profile.seeds)
        self.seeds = [int(s) for s in (seeds.split(",") if isinstance(seeds, str) else seeds)]
        h, w = self.profile.image_hw
        enc = re.sub(r"resnet(\d+)", r"ResNet-\1", self.profile.encoder)
        init = T.t("init_imagenet" if self.profile.encoder_weights == "imagenet" else "init_scratch", lang)
        crop = self.profile.crop_hw
        crop = T.t("crop", lang, h=crop[0], w=crop[1]) if crop and tuple(crop) != tuple(self.profile.image_hw) else ""
        self.model = T.t("model", lang, encoder=enc, init=init, h=h, w=w, crop=crop)
        self.model_short = T.t("model_short", lang, encoder=enc, h=h, w=w)
        lh, lw = self.profile.world_hw if self.embedded else (1024, 2048)
        self.protocol_ours = T.t("protocol_ours", lang, h=h, w=w, lh=lh, lw=lw)
        self.data = T.t("data_embedded" if self.embedded else "data_real", lang)

    def val(self, n) -> str:
        return T.t("val_embedded" if self.embedded else "val_real", self.lang, n=count(n))

    def t(self, key, **kw):
        return T.t(key, self.lang, **kw)


def _seeds_of(df) -> list[int]:
    return sorted(int(s) for s in df["seed"].dropna().unique())


# ---------------------------------------------------------------- the tables
def datasets(df: pd.DataFrame, c: Context) -> str:
    rows = []
    for name, role, kind in (("GTA5", "source", "synthetic"), ("Cityscapes", "target", "real")):
        part = df[df["dataset"] == name]
        lab = part[part["labeled"].astype(str) == "True"]
        unl = part[part["labeled"].astype(str) != "True"]
        train = lab[lab["split"].isin(["train", "all"])]["usable"].sum()
        val = lab[lab["split"] == "val"]["usable"].sum()
        size = part["image_size"].dropna().iloc[0] if "image_size" in part and part["image_size"].notna().any() else (
            f"{c.profile.world_hw[1]}x{c.profile.world_hw[0]}" if c.embedded else NA)
        size = str(size).replace("x", "$\\times$").replace("×", "$\\times$")
        rows.append([f"{name} ({c.t('datasets.' + role)})", c.t("datasets." + kind), count(train),
                     count(val) if val else NA, count(unl["usable"].sum()) if len(unl) else NA,
                     str(int(part["classes_present"].max())), size])
    head = [f" & & \\multicolumn{{2}}{{c}}{{{c.t('datasets.labeled')}}} & & & \\\\", "\\cmidrule(lr){3-4}",
            " & ".join([c.t("datasets.dataset"), c.t("datasets.type"), c.t("datasets.train"), c.t("datasets.val"),
                        c.t("datasets.unlabeled"), c.t("datasets.classes"), c.t("datasets.size")]) + " \\\\"]
    excluded = int(df["excluded"].sum())
    caption = c.t("datasets.caption", where=c.t("datasets.where_embedded") if c.embedded else "")
    return table(caption + " " + c.t("datasets.excluded", n=excluded), "tab:datasets", "llrrrrr", head, rows)


def direct_transfer(df: pd.DataFrame, c: Context) -> str:
    rows = []
    for key in ("gta5", "translated", "val"):
        part = df[df["set"] == key]
        cells = [pm(part[part["metric"] == m]["value"])[0] for m in ("pixel_accuracy", "miou")]
        rows.append([c.t(f"direct.{key}"), *cells])
    n_src = df.loc[df["set"] == "gta5", "eval_images"].iloc[0]
    n_val = df.loc[df["set"] == "val", "eval_images"].iloc[0]
    caption = c.t("direct.caption", n_src=count(n_src), val=c.val(n_val), model=c.model,
                  seeds=seeds_text(_seeds_of(df), c.lang))
    head = [" & ".join([c.t("direct.evaluated_on"), c.t("pixel_accuracy"), c.t("miou")]) + " \\\\"]
    return table(caption, "tab:direct_transfer", "lrr", head, rows)


PER_CLASS_METHODS = ["GTA5", "GTA5→CS (CycleGAN)", "FDA", "+ output adv.", "+ feature adv.", "+ entropy min.",
                     "self-training (ours)", "oracle"]


def per_class(df: pd.DataFrame, c: Context) -> str:
    from thesislib.data.labels import CLASS_NAMES
    df = df.assign(iou=pd.to_numeric(df["iou"]))
    methods = [m for m in PER_CLASS_METHODS if m in set(df["method"])] + \
        [m for m in dict.fromkeys(df["method"]) if m not in PER_CLASS_METHODS]
    mean = df.groupby(["class", "method"])["iou"].mean().unstack("method").reindex(columns=methods)
    rows = []
    for cls in [*CLASS_NAMES, "mIoU"]:
        if cls not in mean.index:
            continue
        if cls == "mIoU":
            rows.append("\\midrule")
        values = mean.loc[cls].tolist()
        flags = best_flags(values, exclude=[i for i, m in enumerate(methods) if m == "oracle"])
        rows.append([T.class_name(cls, c.lang)] + [bold(num(v), f) for v, f in zip(values, flags)])
    cols = c.t("per_class.cols")[:len(PER_CLASS_METHODS)]
    cols = [cols[PER_CLASS_METHODS.index(m)] if m in PER_CLASS_METHODS else latex_escape(m) for m in methods]
    caption = c.t("per_class.caption", val=c.val(_val_n(c)), model=c.model, seeds=seeds_text(_seeds_of(df), c.lang, True),
                  bold=T.bold_rule("class", c.lang))
    head = [" & ".join([c.t("class"), *cols]) + " \\\\"]
    return table(caption, "tab:per_class_iou", "l" + "r" * len(methods), head, rows)


def _val_n(c: Context) -> int:
    return c.profile.n_val if c.embedded else 500


def self_training(df: pd.DataFrame, c: Context) -> str:
    """Rows keyed by their stage's row name (source_only, teacher, control, empty_stream, self_training, oracle),
    then the paired differences over seeds with their 95 % intervals."""
    from thesislib.report.tables import ST_DIFFERENCES, interval_text, paired_difference
    rows = [r for r in ("source_only", "teacher", "control", "empty_stream", "self_training", "oracle")
            if r in set(df["row"])]
    names = c.t("st.rows", rounds=c.profile.st_rounds)
    cells, means = [], []
    for r in rows:
        part = df[df["row"] == r]
        got = [pm(part[part["metric"] == k]["value"]) for k in ("miou", "pixel_accuracy")]
        cells.append([g[0] for g in got])
        means.append([g[1] for g in got])
    flags = np.array([best_flags(col, exclude=[rows.index("oracle")] if "oracle" in rows else [])
                      for col in np.array(means, dtype=float).T]).T
    body = [[names[r]] + [bold(x, f) for x, f in zip(cells[i], flags[i])] for i, r in enumerate(rows)]
    pairs = [(a, b) for a, b in ST_DIFFERENCES if a in rows and b in rows]
    if pairs and df["seed"].nunique() > 1:
        body.append("\\midrule")
        short = c.t("st.short")
        body += [[c.t("st.difference", a=short[a], b=short[b])]
                 + [latex_escape(interval_text(paired_difference(df[df["metric"] == m], a, b)))
                    for m in ("miou", "pixel_accuracy")] for a, b in pairs]
    caption = c.t("st.caption", val=c.val(_val_n(c)), rounds=c.profile.st_rounds, model=c.model,
                  seeds=seeds_text(_seeds_of(df), c.lang), bold=T.bold_rule("metric", c.lang))
    head = [" & ".join([c.t("method"), c.t("miou"), c.t("pixel_accuracy")]) + " \\\\"]
    return table(caption, "tab:self_training", "lrr", head, body)


def data_dependency(df: pd.DataFrame, c: Context) -> str:
    """One group per labeled fraction; a row per way of using the labels (keyed by row name): mIoU, visits."""
    from thesislib.report.figures import fraction_label
    names, body = c.t("dd.rows"), []
    for f, part in df.groupby("fraction", sort=True):
        rows = [r for r in names if r in set(part["row"])]
        got = [pm(part[part["row"] == r]["miou"]) for r in rows]
        flags = best_flags([g[1] for g in got])
        n = int(part["labeled_images"].iloc[0])
        group = c.t("dd.group_all", n=count(n)) if f == 1 else c.t("dd.group", share=fraction_label(f), n=count(n))
        body.append(("group", group, 3))
        for r, g, fl in zip(rows, got, flags):
            visits = part[part["row"] == r]["visits_per_image"].iloc[0]
            body.append([names[r], bold(g[0], fl), count(round(visits))])
    n_train = int(round(df["labeled_images"].max() / df["fraction"].max()))
    caption = c.t("dd.caption", val=c.val(_val_n(c)), n_train=count(n_train), model=c.model,
                  seeds=seeds_text(_seeds_of(df), c.lang), bold=T.bold_rule("fraction", c.lang))
    head = [" & ".join([c.t("method"), c.t("miou"), c.t("dd.visits")]) + " \\\\"]
    return table(caption, "tab:data_dependency", "lrr", head, body)


def short_source(source: str) -> str:
    s = str(source)
    if "Transfer-Learning-Library" in s and "et al." not in s or s.startswith("as listed by Transfer"):
        return "TLL"
    m = re.search(r"([A-Z][\w-]+(?: et al\.| & [A-Z][\w-]+))\s+(?:[A-Z]+\s+)?(\d{4})", s)
    if m:
        return latex_escape(f"{m.group(1)} {m.group(2)}") + ("$^{\\dagger}$" if "Transfer-Learning-Library" in s else "")
    return latex_escape(s)


def _times(s: str) -> str:
    """"512x1024" -> "512×1024" (escaped to $\\times$): one style for sizes."""
    return re.sub(r"(\d)x(\d)", "\\1×\\2", s)


def _backbone(benchmark: str) -> str:
    return benchmark.split(", ", 1)[1] if ", " in benchmark else benchmark


def published_comparison(df: pd.DataFrame, c: Context) -> str:
    ours = df["Source"] == OURS
    body = []
    for backbone, part in df[~ours].groupby(df[~ours]["Benchmark"].map(_backbone), sort=False):
        body.append(("group", c.t("pub.group_published", backbone=latex_escape(backbone.replace("-", " ", 1)
                                                                                  if backbone.startswith("DeepLabV2-") else backbone)), 4))
        for r in part.itertuples():
            body.append([latex_escape(T.method(r.Method, c.lang)), latex_escape(T.family(r.Family, c.lang)),
                         num(r.mIoU), short_source(r.Source)])
    body.append(("group", c.t("pub.group_ours", data=c.t("pub.data_embedded" if c.embedded else "pub.data_real"),
                              model=c.model_short.split(",")[0]), 4))
    for r in df[ours].itertuples():
        body.append([latex_escape(T.method(r.Method, c.lang)), latex_escape(T.family(r.Family, c.lang)), num(r.mIoU),
                     "--"])
    caption = c.t("pub.caption", protocol_pub=c.t("protocol_published"), protocol_ours=c.protocol_ours,
                  seeds=seeds_text(c.seeds, c.lang, True), nc=c.t("not_comparable"))
    note = " ".join([c.t("pub.note_tll"), c.t("pub.dagger"), T.ST_ABBREV[c.lang]])
    head = [" & ".join([c.t("method"), c.t("type"), c.t("miou"), c.t("source_ref")]) + " \\\\"]
    return table(caption, "tab:published_comparison", "llrl", head, body, note=note, size="small")


def published_semisupervised(df: pd.DataFrame, c: Context) -> str:
    ours = df["Source"] == OURS
    groups = []                                    # (title, {method: {labels: miou}})
    pub = df[~ours]
    kind = np.where(pub["Method"].str.contains("GTA5"), "gta",
                    np.where(pub["Method"].str.contains("full", case=False), "full", "cs"))
    for k in ("cs", "full", "gta"):
        part = pub[kind == k]
        if len(part):
            bb = _backbone(part["Benchmark"].iloc[0])
            groups.append((c.t(f"semi.group_{k}", backbone=latex_escape(bb)), part))
    mine = df[ours].copy()
    seeds = mine["Benchmark"].str.extract(r"\((\d+) seed")[0].astype(float)
    n_seeds = int(seeds.min()) if seeds.notna().any() else len(c.seeds)
    groups.append((c.t("semi.group_ours", model=c.model_short.split(",")[0]), mine))
    ncol = max(part["Labeled images"].nunique() for _, part in groups)
    body, sources = [], {}
    for title, part in groups:
        labels = sorted(part["Labeled images"].astype(int).unique())
        body.append(("group", title, ncol + 1))
        body.append([f"\\quad\\emph{{{c.t('semi.labels_row')}}}"] + [f"\\emph{{{count(n)}}}" for n in labels]
                    + [""] * (ncol - len(labels)))
        for m, rows in part.groupby("Method", sort=False):
            by = dict(zip(rows["Labeled images"].astype(int), rows["mIoU"]))
            body.append([latex_escape(T.method(m, c.lang))] + [num(by.get(n)) for n in labels] + [""] * (ncol - len(labels)))
            if str(rows["Source"].iloc[0]) != OURS:
                sources.setdefault(str(rows["Source"].iloc[0]), []).append(T.method(m, c.lang))
    extra = [c.t("semi.more_seeds", n=count(n), seeds=seeds_text(c.seeds[:int(k)], c.lang, True))
             for n, k in zip(mine["Labeled images"], seeds) if k == k and int(k) > n_seeds]
    note = " ".join([c.t("semi.ours_seeds", seeds=seeds_text(c.seeds[:n_seeds], c.lang)), *dict.fromkeys(extra)]) \
        + " " + c.t("semi.sources") + " " + "; ".join(
        f"{', '.join(map(latex_escape, ms))}: {latex_escape(_times(s))}" for s, ms in sources.items()) + "."
    caption = c.t("semi.caption", protocol_pub=c.t("protocol_published"), protocol_ours=c.protocol_ours,
                  nc=c.t("not_comparable"))
    head = [" & ".join([c.t("method"), f"\\multicolumn{{{ncol}}}{{c}}{{mIoU (\\%)}}"]) + " \\\\"]
    return table(caption, "tab:published_semisupervised", "l" + "r" * ncol, head, body, note=note, size="small")


def reported_vs_reproduced(df: pd.DataFrame, c: Context) -> str:
    from thesislib.data.labels import CLASS_NAMES
    da = df[df["experiment"] == "domain_adaptation"].copy()
    da["row"] = np.where(da["metric"] == "miou", "mIoU", da["class"].fillna(""))
    rows = []
    for cls in [*CLASS_NAMES, "mIoU"]:
        part = da[da["row"] == cls]
        if not len(part):
            continue
        if cls == "mIoU":
            rows.append("\\midrule")
        cells = []
        for s in ("gta5", "gta5_cyclegan"):
            p = part[part["setting"] == s]
            cells += [num(p["reported"].iloc[0]) if len(p) else NA, num(p["reproduced"].iloc[0]) if len(p) else NA]
        rows.append([T.class_name(cls, c.lang), *cells])
    head = [f" & \\multicolumn{{4}}{{c}}{{{c.t('rvr.trained_on')}}} \\\\", "\\cmidrule(l){2-5}",
            f" & \\multicolumn{{2}}{{c}}{{{c.t('rvr.gta5')}}} & \\multicolumn{{2}}{{c}}{{{c.t('rvr.cyclegan')}}} \\\\",
            "\\cmidrule(lr){2-3}\\cmidrule(l){4-5}",
            " & ".join([c.t("class"), c.t("reported"), c.t("reproduced"), c.t("reported"), c.t("reproduced")]) + " \\\\"]
    caption = c.t("rvr.caption", data=c.data, model=c.model_short, seeds=seeds_text(c.seeds, c.lang, True))
    return table(caption, "tab:reported_vs_reproduced", "lrrrr", head, rows)


def reported_vs_reproduced_direct(df: pd.DataFrame, c: Context) -> str:
    dt = df[df["experiment"] == "direct_transfer"]
    rows = []
    for s in ("source", "source_to_target", "target"):
        p = dt[dt["setting"] == s]
        cells = []
        for m in ("pixel_accuracy", "miou"):
            q = p[p["metric"] == m]
            cells += [num(q["reported"].iloc[0]) if len(q) else NA, num(q["reproduced"].iloc[0]) if len(q) else NA]
        rows.append([c.t(f"rvrd.{s}"), *cells])
    head = [f" & \\multicolumn{{2}}{{c}}{{{c.t('pixel_accuracy')}}} & \\multicolumn{{2}}{{c}}{{{c.t('miou')}}} \\\\",
            "\\cmidrule(lr){2-3}\\cmidrule(l){4-5}",
            " & ".join([c.t("direct.evaluated_on"), c.t("reported"), c.t("reproduced"), c.t("reported"),
                        c.t("reproduced")]) + " \\\\"]
    caption = c.t("rvrd.caption", data=c.data, model=c.model_short, seeds=seeds_text(c.seeds, c.lang, True))
    return table(caption, "tab:reported_vs_reproduced_direct", "lrrrr", head, rows)


BUILDERS = {"table_4_1_datasets": datasets, "table_4_3_direct_transfer": direct_transfer,
            "table_4_4_per_class_iou": per_class, "table_self_training": self_training,
            "table_data_dependency": data_dependency, "table_published_comparison": published_comparison,
            "table_published_semisupervised": published_semisupervised,
            "table_reported_vs_reproduced": reported_vs_reproduced,
            "table_reported_vs_reproduced_direct": reported_vs_reproduced_direct}


# ---------------------------------------------------------------- files
def csv_header(name: str, provenance: dict, lang: str) -> str:
    """The comment lines on top of a table's CSV (and, as LaTeX comments, of its .tex): what made it, from
    which profile (with its overrides), at which commit, seeds, date."""
    p = {"made_by": "thesislib", "commit": git_commit(), **provenance, "lang": lang}
    p.setdefault("date", _dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    lines = [f"{name} -- generated by thesislib, do not edit by hand (regenerate with make reproduce)"]
    lines += [f"{k.replace('_', ' ')}: {json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in p.items()]
    return "".join(f"# {line}\n" for line in lines)


def read_table(path) -> tuple[pd.DataFrame, dict]:
    """(the raw numbers, the provenance of its header) of a table's CSV."""
    prov, skip = {}, 0
    with open(path) as f:
        for line in f:
            if not line.startswith("# "):
                break
            skip += 1
            if skip > 1 and ": " in line:
                k, v = line[2:].rstrip("\n").split(": ", 1)
                prov[k.replace(" ", "_")] = json.loads(v) if v[:1] in "[{" else v
    return pd.read_csv(path, skiprows=skip), prov


def render(name: str, tables_dir, lang: str = "en", out_dir=None) -> Path:
    """Write `<out_dir or tables_dir>/<name>.tex` from `tables_dir/<name>.csv` (its numbers and its header's
    provenance: the profile it was computed with, overrides included); returns its path."""
    df, prov = read_table(Path(tables_dir) / f"{name}.csv")
    if "seed" in df.columns:
        prov["seeds"] = _seeds_of(df)
    head = csv_header(name, {k: v for k, v in prov.items() if k != "lang"}, lang)
    out = Path(out_dir or tables_dir) / f"{name}.tex"
    tex_head = "".join("% " + line[2:] for line in head.splitlines(keepends=True))
    atomic_write_text(out, tex_head + BUILDERS[name](df, Context(prov, lang)))
    return out


def render_all(tables_dir, lang: str = "en", out_dir=None) -> list[Path]:
    tables_dir = Path(tables_dir)
    return [render(n, tables_dir, lang, out_dir) for n in TABLES if (tables_dir / f"{n}.csv").exists()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="re-render the thesis tables from their CSVs")
    p.add_argument("--tables", default="tables", help="folder with the CSVs (and the .tex headers)")
    p.add_argument("--out", default=None, help="where the .tex go (default: --tables)")
    p.add_argument("--lang", default="en", choices=T.LANGS)
    a = p.parse_args(argv)
    for path in render_all(a.tables, a.lang, a.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def write_thesis_table(raw: pd.DataFrame, name: str, tables_dir, provenance: dict | None = None,
                       lang: str = "en") -> Path:
    """A notebook's export: `tables_dir/<name>.csv` (the raw numbers, every seed, under a provenance header)
    and `<name>.tex` rendered from it with the captions and headers of `lang`. Returns the .tex path."""
    T.check_lang(lang)
    tables_dir = Path(tables_dir)
    atomic_write_text(tables_dir / f"{name}.csv", csv_header(name, provenance or {}, lang) + raw.to_csv(index=False))
    return render(name, tables_dir, lang)
