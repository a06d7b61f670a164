"""What tables share: LaTeX escaping, "mean ± std" of seeds, aggregation over seeds, the commit stamp, the
reference data shipped with the package. The one table writer is thesislib.report.thesis (`table`)."""
import os
import subprocess

import numpy as np
import pandas as pd

from thesislib.paths import REPO

NA = "--"
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "<": r"\textless{}", ">": r"\textgreater{}",
                  "→": r"$\rightarrow$", "±": r"$\pm$", "Δ": r"$\Delta$", "×": r"$\times$", "–": "--", "—": "---"}


def latex_escape(text) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


# the markup latex_escape writes for symbols, and what the captions write by hand, back to the symbols
_PLAIN = {**{v: k for k, v in _LATEX_SPECIAL.items() if v.startswith("$")}, r"\%": "%", "$-$": "−", r"$^{\dagger}$": "†"}


def plain_text(latex: str) -> str:
    """A caption's LaTeX as plain text (a figure's alternative text in a notebook)."""
    for markup, char in _PLAIN.items():
        latex = latex.replace(markup, char)
    return latex


def mean_std_frame(mean: pd.DataFrame, std: pd.DataFrame | None = None, precision: int = 2) -> pd.DataFrame:
    """A notebook's view of a table: each cell "mean ± std", or the value alone where there is no spread
    (one seed: std is NaN), "--" where there is no value; as in the .tex."""
    def cell(m, s):
        if pd.isna(m):
            return NA
        return f"{m:.{precision}f}" if s is None or pd.isna(s) else f"{m:.{precision}f} ± {s:.{precision}f}"
    std = std.reindex_like(mean) if std is not None else mean.map(lambda _: None)
    return pd.DataFrame([[cell(m, s) for m, s in zip(mr, sr)] for mr, sr in zip(mean.to_numpy(), std.to_numpy())],
                        index=mean.index, columns=mean.columns)


def git_commit(repo=REPO) -> str:
    """Short commit of `repo` (with "+dirty" when tracked files changed), "unknown" outside a repository.
    The exports themselves (tables/, figures/) do not count: an export pass rewrites them as it goes."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}         # read-only: never refresh the index
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, env=env)
        if out.returncode != 0:
            return "unknown"
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", ":(exclude)tables", ":(exclude)figures"],
                               cwd=repo, capture_output=True, timeout=10, env=env).returncode
        return commit + ("+dirty" if dirty == 1 else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def reference(name: str) -> pd.DataFrame:
    """A reference CSV shipped with the package (thesislib/reference/<name>.csv): published results
    and the thesis' reported numbers, each with its source."""
    from importlib.resources import files
    return pd.read_csv(files("thesislib").joinpath("reference", f"{name}.csv").open())


def aggregate(raw: pd.DataFrame, index: str, columns: str | None = None, value: str = "value"):
    """(mean, std) frames of a long-format frame over its other columns (typically seeds)."""
    keys = [index] + ([columns] if columns else [])
    g = raw.groupby(keys, sort=False)[value]
    mean, std = g.mean(), g.std(ddof=1)
    if columns:
        mean, std = mean.unstack(columns), std.unstack(columns)
        # keep first-appearance order of rows and columns
        order_i = list(dict.fromkeys(raw[index]))
        order_c = list(dict.fromkeys(raw[columns]))
        mean, std = mean.reindex(index=order_i, columns=order_c), std.reindex(index=order_i, columns=order_c)
    else:
        mean, std = mean.to_frame(value), std.to_frame(value)
    return mean, std


# what the self-training table compares, paired by seed: (row, minus row)
ST_DIFFERENCES = (("self_training", "control"), ("self_training", "empty_stream"), ("empty_stream", "control"),
                  ("self_training", "teacher"), ("control", "teacher"))


def t_interval(values: pd.Series) -> dict:
    """The mean of `values` (one per seed), its 95 % interval (Student's t over the seeds) and whether that interval
    excludes 0 (for a paired difference: only then is it a finding)."""
    from scipy import stats
    d = values.dropna()
    n, mean = len(d), float(d.mean()) if len(d) else np.nan
    half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    return {"mean": mean, "low": mean - half, "high": mean + half, "seeds": n,
            "finding": bool(n > 1 and (mean - half > 0 or mean + half < 0))}


def paired_difference(raw: pd.DataFrame, a: str, b: str, by: str = "row", value: str = "value") -> dict:
    """Row `a` minus row `b` of a long-format frame, paired by seed, as `t_interval` gives it."""
    wide = raw.pivot_table(index="seed", columns=by, values=value)
    d = wide[a] - wide[b] if a in wide and b in wide else pd.Series(dtype=float)
    return {"a": a, "b": b, **t_interval(d)}


def interval_text(d: dict, precision: int = 1) -> str:
    """"+2.1 [0.4, 3.8]": a paired difference with its 95 % interval ("+2.1" alone for one seed)."""
    if pd.isna(d["mean"]):
        return NA
    if pd.isna(d["low"]):
        return f"{d['mean']:+.{precision}f}"
    return f"{d['mean']:+.{precision}f} [{d['low']:.{precision}f}, {d['high']:.{precision}f}]"
