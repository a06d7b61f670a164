"""`thesislib sweep`: one notebook over a Cartesian parameter grid. Each run writes its key numbers (a flat
dict) as JSON to the `results_path` it is given; they are collected into build/sweeps/<notebook>/results.csv,
a LaTeX table and a plot. A point reuses every stage the grid leaves unchanged (the stage cache keys a
stage by what it reads)."""
import itertools
import json
import re
import time
from pathlib import Path

import pandas as pd

from thesislib.paths import build_root
from thesislib.runs.pipeline import NOTEBOOKS, _execute, _say, elapsed, failure_message, kernel_name, notebooks


def find_notebook(notebook, notebooks_dir=NOTEBOOKS) -> Path:
    """A notebook by path, file name, stem or number ("05", "05_self_training", "notebooks/05_...ipynb")."""
    p = Path(notebook)
    if p.is_file():
        return p
    for cand in notebooks(notebooks_dir):
        if str(notebook) in (cand.name, cand.stem, cand.stem.split("_", 1)[0]):
            return cand
    raise FileNotFoundError(f"no notebook {notebook!r} (give a path, or one of: "
                            f"{', '.join(nb.stem for nb in notebooks(notebooks_dir)) or 'none found'})")


def point_name(point: dict) -> str:
    """File-name-safe "name=value,name=value" of one grid point."""
    text = ",".join(f"{k}={v}" for k, v in point.items())
    return re.sub(r"[^A-Za-z0-9=,.+\-_]", "_", text)


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def sweep(notebook, grid: dict, profile: str = "smoke", data_root=None, build_dir=None,
          notebooks_dir=NOTEBOOKS) -> int:
    """Run `notebook` at every point of `grid` ({name: [values]}) in turn; collect results.csv, a LaTeX
    table and a plot under build/sweeps/<stem>/. Returns 0, or 1 if any point failed (the others are
    still run and collected), 2 for a bad notebook or grid."""
    import papermill as pm
    try:
        nb = find_notebook(notebook, notebooks_dir)
    except FileNotFoundError as e:
        _say(f"error: {e}")
        return 2
    if not grid or any(not isinstance(v, (list, tuple)) or not v for v in grid.values()):
        _say(f"error: the grid needs at least one value per parameter, got {grid}")
        return 2
    declared = pm.inspect_notebook(str(nb))
    unknown = [k for k in [*grid, "results_path"] if k not in declared]
    if unknown:
        _say(f"error: {nb.name} has no parameter(s) {', '.join(unknown)} in its `parameters` cell "
             f"(it declares: {', '.join(declared) or 'none'})")
        return 2
    out_dir = build_root(build_dir) / "sweeps" / nb.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    kernel = kernel_name()
    _say(f"sweep {nb.name}: {len(points)} runs ({' x '.join(f'{k}[{len(v)}]' for k, v in grid.items())}), "
         f"profile {profile} -> {out_dir}")
    rows, failed, start = [], [], time.time()
    for i, point in enumerate(points, 1):
        name = point_name(point)
        out, results = out_dir / f"{name}.ipynb", out_dir / f"{name}.json"
        results.unlink(missing_ok=True)
        params = {"profile": profile, "results_path": str(results), **point}
        if "data_root" in declared:
            params["data_root"] = None if data_root in (None, "") else str(data_root)
        if build_dir is not None and "build_dir" in declared:
            params["build_dir"] = str(build_dir)
        t0 = time.time()
        _say(f"[{i}/{len(points)}] {name:<40}", end="")
        try:
            _execute(nb, out, params, kernel)
            if not results.exists():
                raise RuntimeError(f"the notebook wrote no results to results_path ({results})")
            values = flatten(json.loads(results.read_text()))
        except Exception as e:  # noqa: BLE001 - one point failing does not lose the others
            _say(f"failed after {elapsed(time.time() - t0)}")
            _say(failure_message(nb, out, e))
            failed.append(name)
            continue
        _say(f"ok  {elapsed(time.time() - t0):>12}")
        rows.append({**point, **{k: v for k, v in values.items() if k not in point}})
    if rows:
        collect(rows, list(grid), nb.stem, out_dir, profile)
    _say(f"sweep done: {len(rows)} of {len(points)} runs in {elapsed(time.time() - start)}"
         + (f"; failed: {', '.join(failed)}" if failed else "") + f"; results in {out_dir / 'results.csv'}")
    return 1 if failed else 0


def collect(rows: list[dict], names: list[str], stem: str, out_dir: Path, profile: str) -> pd.DataFrame:
    """results.csv, sweep_<stem>.csv/.tex (the thesis' table writer) and sweep_<stem>.pdf/.png."""
    from thesislib.io import atomic_write_text
    from thesislib.report import figures, style
    from thesislib.report.thesis import csv_header, plain_table
    df = pd.DataFrame(rows)
    atomic_write_text(out_dir / "results.csv", df.to_csv(index=False))
    numeric = [c for c in df.columns if c not in names and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    head = csv_header(f"sweep_{stem}", {"made_by": f"thesislib sweep {stem}", "profile": profile,
                                        "swept": ", ".join(names)}, "en")
    atomic_write_text(out_dir / f"sweep_{stem}.csv", head + df.to_csv(index=False))
    tex = plain_table(df[names + numeric], f"Sweep of {stem} over {', '.join(names)} (profile {profile}).",
                      f"tab:sweep_{stem}")
    atomic_write_text(out_dir / f"sweep_{stem}.tex", "".join("% " + line[2:] for line in head.splitlines(True)) + tex)
    if numeric:
        plot, hue = df, None
        if len(names) > 1:                          # one line per setting of the other parameters
            hue = names[1] if len(names) == 2 else "setting"
            if len(names) > 2:
                plot = df.assign(setting=[",".join(f"{k}={r[k]}" for k in names[1:]) for _, r in df.iterrows()])
        varying = [c for c in numeric if df[c].nunique(dropna=True) > 1] or numeric   # constants say nothing
        fig = figures.sweep_plot(plot, names[0], varying, hue=hue)
        style.save(fig, f"sweep_{stem}", out_dir)
        figures.close(fig)
    return df
