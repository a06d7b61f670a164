"""The thesis' figures as plain functions: data in, matplotlib Figure out (save with `style.save`).

Images may be numpy arrays (H, W, 3) uint8 or float in [0, 1], or torch tensors (3, H, W) in [0, 1];
label maps are (H, W) integer train ids (255 = ignored), drawn in the Cityscapes palette.
"""
from fractions import Fraction

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from thesislib.data.labels import CLASS_NAMES, PALETTE, colorize
from thesislib.report import style


# ---------------------------------------------------------------- images
def to_rgb(image) -> np.ndarray:
    """An (H, W, 3) float array in [0, 1] from a numpy image or a (3, H, W) tensor."""
    a = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    a = np.clip(a.astype(np.float32), 0, 1)
    return np.repeat(a, 3, axis=2) if a.shape[-1] == 1 else a


def is_mask(a) -> bool:
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a.ndim == 2


def label_rgb(mask) -> np.ndarray:
    m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    return colorize(m.astype(np.int64).clip(0, 255)).astype(np.float32) / 255.0


def overlay(image, mask, alpha: float = 0.55) -> np.ndarray:
    """The image with its label map blended on top (ignored pixels left as they are)."""
    img, lab = to_rgb(image), label_rgb(mask)
    m = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
    valid = (m != 255)[..., None]
    if lab.shape[:2] != img.shape[:2]:
        raise ValueError(f"image {img.shape[:2]} and mask {lab.shape[:2]} differ in size")
    return np.where(valid, (1 - alpha) * img + alpha * lab, img)


VOID_LABEL = "void (ignored)"


def palette_legend(fig, classes=None, ncol: int = 7, loc: str = "outside lower center", void: str | None = "black"):
    """A legend of the Cityscapes colours (all 19 classes, or the given ones) under the figure, with the
    void/ignored pixels: `void="black"` (label maps) or "overlay" (not overlaid: the image shows through)."""
    classes = list(classes or CLASS_NAMES)
    handles = [Patch(facecolor=PALETTE[CLASS_NAMES.index(c)] / 255.0, edgecolor="none", label=c) for c in classes]
    if void == "black":
        handles.append(Patch(facecolor="black", edgecolor="none", label=VOID_LABEL))
    elif void == "overlay":
        handles.append(Patch(facecolor="none", edgecolor="0.4", linewidth=0.6, label="void (not overlaid)"))
    return fig.legend(handles=handles, loc=loc, ncol=ncol, frameon=False, fontsize=8,
                      handlelength=1.0, handleheight=1.0, columnspacing=0.8, handletextpad=0.4)


def image_grid(rows, col_titles=None, row_titles=None, legend: bool | None = None, aspect: float | None = None,
               void: str = "black"):
    """A grid of images: rows x columns; a 2-D cell is a label map (coloured), a 3-channel cell an image.

    `legend` (default: when any label map is shown) adds the palette legend. Returns the Figure."""
    rows = [list(r) for r in rows]
    nrows, ncols = len(rows), max(len(r) for r in rows)
    if nrows == 0:
        raise ValueError("image_grid needs at least one row")
    first = rows[0][0]
    shape = (first.shape[-2:] if (hasattr(first, "detach") and first.ndim == 3) else np.asarray(first).shape[:2])
    aspect = aspect or shape[0] / shape[1]
    has_mask = any(is_mask(c) for r in rows for c in r if c is not None)
    legend = has_mask if legend is None else legend
    height_in = nrows * (style.TEXT_WIDTH / ncols) * aspect * 1.04 + 0.75 * legend + 0.2 * bool(col_titles)
    fig, axes = style.figure(height_ratio=height_in / style.TEXT_WIDTH, nrows=nrows, ncols=ncols, squeeze=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.01, hspace=0.01)
    for i, r in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_axis_off()
            cell = r[j] if j < len(r) else None
            if cell is None:
                continue
            ax.imshow(label_rgb(cell) if is_mask(cell) else to_rgb(cell), interpolation="nearest")
            if i == 0 and col_titles:
                ax.set_title(col_titles[j], fontsize=8, pad=3)
        if row_titles:
            axes[i, 0].set_axis_on()
            axes[i, 0].set_xticks([]), axes[i, 0].set_yticks([])
            for s in axes[i, 0].spines.values():
                s.set_visible(False)
            axes[i, 0].set_ylabel(row_titles[i], fontsize=8)
    if legend:
        palette_legend(fig, void=void if any(is_mask(c) for r in rows for c in r if c is not None) else "overlay")
    return fig


def sample_grid(source, target, alpha: float = 0.55):
    """Dataset samples: per row a source image, its labels over it, a target image, its labels over it.

    source, target: lists of (image, mask) of equal length."""
    rows = [[s_img, overlay(s_img, s_mask, alpha), t_img, overlay(t_img, t_mask, alpha)]
            for (s_img, s_mask), (t_img, t_mask) in zip(source, target)]
    fig = image_grid(rows, ["source image", "source labels", "target image", "target labels"], legend=True,
                     void="overlay")
    return fig


def prediction_panel(rows, titles=("image", "ground truth", "teacher", "student")):
    """Per row: image | ground truth | teacher prediction | student prediction (label maps coloured)."""
    return image_grid([list(r) for r in rows], list(titles), legend=True)


def translation_samples(rows, titles=("source", "CycleGAN (source→target)", "FDA", "target")):
    """Per row: source image, its translation(s) (CycleGAN, FDA, ...), a target image for reference."""
    return image_grid([list(r) for r in rows], list(titles), legend=False)


# ---------------------------------------------------------------- charts
def class_frequency(counts: dict, class_names=None, log: bool = True):
    """Share of labeled pixels per class in each domain: {domain: 19 pixel counts (or per-image dict)}."""
    class_names = list(class_names or CLASS_NAMES)
    shares = {}
    for domain, c in counts.items():
        total = np.sum(list(c.values()), axis=0) if isinstance(c, dict) else np.asarray(c)
        total = np.asarray(total, dtype=float)
        shares[domain] = 100 * total / max(total.sum(), 1)
    df = pd.DataFrame(shares, index=class_names)
    fig, ax = style.figure(0.42)
    _grouped_bars(ax, df, log=log)
    ax.set_ylabel("share of labeled pixels (%)")
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    fig.legend(loc="outside upper center", frameon=False, ncol=len(df.columns))
    return fig


def _grouped_bars(ax, df: pd.DataFrame, log: bool = False, mark_zero: bool = False):
    """Grouped bars; `mark_zero`: a value of 0 gets a dot on the axis in its bar's colour (a bar of
    height 0 is invisible and would read as missing data; a missing value, NaN, gets nothing)."""
    n = len(df.columns)
    width = 0.8 / max(n, 1)
    x = np.arange(len(df.index))
    for k, (col, c) in enumerate(zip(df.columns, style.colors(n))):
        v = df[col].to_numpy(dtype=float)
        if log:
            v = np.where(v > 0, v, np.nan)
        xs = x - 0.4 + width * (k + 0.5)
        ax.bar(xs, v, width, label=str(col), color=c, linewidth=0)
        if mark_zero:
            zero = np.isclose(v, 0) & np.isfinite(v)
            if zero.any():   # an empty unclipped line would count as a point at the figure's corner in the layout
                ax.plot(xs[zero], np.zeros(zero.sum()), "o", ms=2.2, color=c, clip_on=False, zorder=3)
    ax.set_xticks(x, [str(i) for i in df.index], rotation=55, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.grid(axis="x", visible=False)


def per_class_iou(df: pd.DataFrame, panels: int = 2):
    """Grouped bars of per-class IoU: `df` is classes x methods in percent (an "mIoU" row is drawn too),
    the classes split over `panels` stacked panels so the bars stay readable."""
    fig, axes = style.figure(0.3 * panels + 0.1, nrows=panels, squeeze=False)
    chunks = np.array_split(np.arange(len(df.index)), panels)
    for ax, rows in zip(axes[:, 0], chunks):
        part = df.iloc[rows]
        _grouped_bars(ax, part, mark_zero=True)
        ax.set_ylabel("IoU (%)")
        ax.set_ylim(0, 100)
        ax.set_xlim(-0.6, max(len(c) for c in chunks) - 0.4)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(len(df.columns), 4), frameon=False)
    return fig


def rounds_curve(df: pd.DataFrame, references: dict | None = None, y: str = "miou", ylabel: str = "mIoU (%)"):
    """mIoU per self-training round: long `df` with columns round, `y` (and seed; several seeds give a
    mean line and a ±1 std band). `references`: {label: value} drawn as dashed horizontal lines."""
    fig, ax = style.figure(0.42)
    g = df.groupby("round")[y]
    mean, std = g.mean(), g.std(ddof=1).fillna(0)
    ax.plot(mean.index, mean.values, marker="o", color=style.PALETTE[0], label="self-training (round 0 = teacher)")
    if df.groupby("round").size().max() > 1:
        ax.fill_between(mean.index, mean - std, mean + std, color=style.PALETTE[0], alpha=0.2, linewidth=0)
    for k, (label, value) in enumerate((references or {}).items()):
        if value is not None and np.isfinite(value):
            ax.axhline(value, ls="--", lw=1, color=style.PALETTE[(k + 1) % len(style.PALETTE)], label=label)
    ax.set_xticks(sorted(df["round"].unique()))
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    fig.legend(frameon=False, loc="outside right upper")    # beside the axes, never over a line
    return fig


def convergence(df: pd.DataFrame):
    """mIoU against the training budget: long `df` with columns steps, row (teacher, oracle, control, ...),
    miou (and seed: several seeds give the mean with a ±1 std band); the control is drawn at its teacher's budget."""
    fig, ax = style.figure(0.42)
    for k, (row, part) in enumerate(df.groupby("row", sort=False)):
        g = part.groupby("steps")["miou"]
        mean, std = g.mean(), g.std(ddof=1).fillna(0)
        ax.plot(mean.index, mean.values, marker="o", color=style.PALETTE[k], label=row.replace("_", " "))
        ax.fill_between(mean.index, mean - std, mean + std, color=style.PALETTE[k], alpha=0.2, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(df["steps"].unique()), [str(s) for s in sorted(df["steps"].unique())])
    ax.set_xlabel("training steps of the teacher and the oracle (log scale)")
    ax.set_ylabel("mIoU on target val (%)")
    fig.legend(frameon=False, loc="outside lower center", ncol=2)
    return fig


def pseudo_label_quality(overall: pd.DataFrame, per_class: pd.DataFrame | None = None):
    """Pseudo-label quality per round. overall: columns round, precision, coverage and, where present,
    class_mean_precision (percent; several seeds are averaged). per_class: columns round, class, precision,
    coverage -> two heatmaps."""
    ncols = 3 if per_class is not None else 1
    fig, axes = style.figure(0.62 if per_class is not None else 0.4, ncols=ncols, squeeze=False,
                             gridspec_kw={"width_ratios": [1.2, 1, 1]} if per_class is not None else None)
    ax = axes[0, 0]
    shown = [c for c in ("precision", "class_mean_precision", "coverage") if c in overall and overall[c].notna().any()]
    o = overall.groupby("round")[shown].mean()
    for column, marker, label in (("precision", "o", "precision (pixels)"),
                                  ("class_mean_precision", "^", "precision (class mean)"),
                                  ("coverage", "s", "coverage")):
        if column in o:
            ax.plot(o.index, o[column], marker=marker, label=label)
    ax.set_xticks(o.index)
    ax.set_xlabel("round")
    ax.set_ylabel("pixels (%)")
    ax.set_ylim(0, 100)
    ax.set_title("all classes")
    lines = ax.get_legend_handles_labels()
    if per_class is None:
        ax.legend(*lines, frameon=False, loc="best")
    else:
        import seaborn as sns
        for ax, metric in zip(axes[0, 1:], ("precision", "coverage")):
            values = per_class.assign(**{metric: pd.to_numeric(per_class[metric])})
            table = values.groupby(["class", "round"], sort=False)[metric].mean().unstack("round")
            extra = [c for c in table.index if c not in CLASS_NAMES]
            table = table.reindex(CLASS_NAMES + extra)        # every class, in order; NaN (no pixels) blank
            sns.heatmap(table, ax=ax, vmin=0, vmax=100, cmap="viridis", cbar=metric == "coverage",
                        yticklabels=list(table.index) if metric == "precision" else False, linewidths=0.3,
                        cbar_kws={"label": "precision, coverage (%)", "shrink": 0.8} if metric == "coverage" else None)
            ax.grid(False)
            ax.set_facecolor("0.92")                          # blank = no pseudo-labeled / no true pixels
            ax.set_title(metric)
            ax.set_xlabel("round")
            ax.set_ylabel("")
            ax.tick_params(axis="y", labelsize=8)
        grey = Patch(facecolor="0.92", edgecolor="0.6", linewidth=0.5,
                     label="grey: none pseudo-labeled / none present")
        # under the panels, where no line can run through it
        fig.legend(handles=lines[0] + [grey], loc="outside lower center", ncols=2, frameon=False, fontsize=8)
    return fig


def fraction_label(f: float) -> str:
    fr = Fraction(float(f)).limit_denominator(64)
    return "1" if fr == 1 else f"{fr.numerator}/{fr.denominator}"


def data_dependency(df: pd.DataFrame, x: str = "fraction", y: str = "miou", hue: str = "method",
                    references: dict | None = None, xlabel: str = "labeled share of target-train images"):
    """mIoU against the labeled-target fraction, one line per method (mean; ±1 std band over seeds)."""
    fig, ax = style.figure(0.42)
    for k, (name, part) in enumerate(df.groupby(hue, sort=False)):
        g = part.groupby(x)[y]
        mean, std = g.mean(), g.std(ddof=1).fillna(0)
        c = style.PALETTE[k % len(style.PALETTE)]
        ax.plot(mean.index, mean.values, marker="o", color=c, label=str(name))
        if part.groupby(x).size().max() > 1:
            ax.fill_between(mean.index, mean - std, mean + std, color=c, alpha=0.2, linewidth=0)
    shown = [v for v in (references or {}).values() if v is not None and np.isfinite(v)]
    for k, (label, value) in enumerate((references or {}).items()):
        if value is not None and np.isfinite(value):
            ax.axhline(value, ls="--", lw=1, color="0.4" if k == 0 else "0.7", label=label)
    if shown:                                           # every reference line inside the axes
        lo, hi = ax.get_ylim()
        pad = 0.05 * (max(hi, *shown) - min(lo, *shown))
        ax.set_ylim(min(lo, min(shown) - pad), max(hi, max(shown) + pad))
    xs = sorted(df[x].unique())
    if len(xs) > 1 and min(xs) > 0:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [fraction_label(v) for v in xs])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mIoU (%)")
    fig.legend(frameon=False, loc="outside right upper")    # beside the axes, never over a line
    return fig


def sweep_plot(df: pd.DataFrame, x: str, ys: list[str], hue: str | None = None):
    """One small panel per numeric result `ys` against the swept parameter `x` (lines per `hue`)."""
    n = max(len(ys), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = style.figure(0.35 * nrows * (3 / ncols) ** 0.5, ncols=ncols, nrows=nrows, squeeze=False)
    numeric_x = pd.api.types.is_numeric_dtype(df[x])
    for ax, y in zip(axes.flat, ys):
        groups = df.groupby(hue, sort=False) if hue else [(None, df)]
        for name, part in groups:
            part = part.sort_values(x) if numeric_x else part
            xs = part[x] if numeric_x else part[x].astype(str)
            ax.plot(xs, part[y], marker="o", label=None if name is None else f"{hue}={name}")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if hue:
            ax.legend(frameon=False, fontsize=8)
    for ax in list(axes.flat)[len(ys):]:
        ax.set_axis_off()
    return fig


def close(fig) -> None:
    plt.close(fig)


def lettered(fig, lang: str = "en"):
    """`fig` with every text it holds (titles, axis labels, ticks, legends) in `lang` (thesislib.report.text's
    figure words; English is how the figures are drawn), in a font that has the language's letters."""
    from matplotlib.text import Text

    from thesislib.report import text as T
    if T.check_lang(lang) == "en":
        return fig
    family = style.font_for(lang)
    for artist in fig.findobj(Text):
        if artist.get_text():
            artist.set_text(T.figure_word(artist.get_text(), lang))
            artist.set_fontfamily(family)
    return fig
