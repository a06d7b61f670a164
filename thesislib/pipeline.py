"""`thesislib reproduce` and `thesislib sweep`: run the notebooks with Papermill.

reproduce: on a CPU, first every stage the notebooks need, trained side by side (`_train_side_by_side`); then
every `notebooks/NN_*.ipynb` in order, with one profile's parameters; the executed copies go
to build/<profile>/notebooks/ (the committed notebooks stay output-free); it marks the run as the thesis' export
run (THESISLIB_EXPORTS=thesis for the kernel), so the notebooks write tables/ and figures/ (any other run of a
notebook writes under build/). A failing notebook stops the run, names the notebook and the cell, and keeps the partially
executed copy for inspection.

sweep: one notebook over a Cartesian parameter grid; each run writes its key numbers (a flat dict) as
JSON to the `results_path` it is given; they are collected into build/sweeps/<notebook>/results.csv,
a LaTeX table and a plot.
"""
import itertools
import json
import os
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from thesislib.notebook import EXPORTS_ENV, THESIS   # what marks reproduce's runs as the thesis' export run
from thesislib.paths import build_root

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "thesislib"          # installed by `make setup`; python3 otherwise


def kernel_name() -> str:
    """"thesislib" when that kernelspec is installed (make setup), else "python3"."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"
    except Exception:  # noqa: BLE001 - no jupyter_client / broken config: the default kernel
        return "python3"


def notebooks(notebooks_dir=NOTEBOOKS) -> list[Path]:
    """The reproduction notebooks, `NN_*.ipynb`, in order."""
    return sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if p.is_file())


def elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def _say(text: str = "", end: str = "\n") -> None:
    print(text, end=end, flush=True)


def _kernel_manager(log, env: dict | None = None):
    """A kernel manager whose kernel writes its own stderr/stdout (startup warnings, crashes) to `log`
    (an open file) instead of the terminal, so the progress lines stay readable; `env` is added to the
    kernel's environment."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stderr", log)
            kw.setdefault("stdout", log)
            if env:
                kw["env"] = {**(kw.get("env") or os.environ), **env}
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


def kernel_log(out: Path) -> Path:
    return out.with_suffix(".kernel.log")


def _execute(nb: Path, out: Path, parameters: dict, kernel: str, log_output: bool = False, env: dict | None = None):
    import papermill as pm
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(kernel_log(out), "w") as log:
        return pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name=kernel, cwd=str(REPO),
                                   progress_bar=False, log_output=log_output,
                                   kernel_manager_class=_kernel_manager(log, env))


def _declared(nb: Path, parameters: dict) -> dict:
    """The parameters `nb` declares in its `parameters` cell (profile always: a notebook must not
    silently ignore it)."""
    import papermill as pm
    try:
        declared = pm.inspect_notebook(str(nb))
    except Exception:  # noqa: BLE001 - unreadable here: papermill reports it when it executes
        return parameters
    return {k: v for k, v in parameters.items() if k in declared or k in ("profile", "overrides")}


def failure_message(nb: Path, out: Path, error: BaseException) -> str:
    """What went wrong where: the notebook, the failing cell (index and execution count), the error,
    and the path of the partially executed copy."""
    from papermill.exceptions import PapermillExecutionError
    if isinstance(error, PapermillExecutionError):
        first = (error.source or "").strip().splitlines()[:1]
        where = (f"cell {error.cell_index} (In [{error.exec_count}]"
                 + (f": {first[0][:60]!r}" if first else "") + ")")
        what = f"{error.ename}: {error.evalue}"
    else:
        where, what = "before or outside a cell", f"{type(error).__name__}: {error}"
    kept = f"partially executed copy: {out}" if out.exists() else f"no executed copy was written ({out})"
    log = kernel_log(out)
    tail = ""
    if not isinstance(error, PapermillExecutionError) and log.exists() and log.stat().st_size:
        tail = f"\n  kernel log ({log}):\n    " + "\n    ".join(log.read_text().strip().splitlines()[-5:])
    return f"FAILED {nb.name} at {where}\n  {what}\n  {kept}{tail}"


def reproduce(profile: str = "default", data_root=None, exports_only: bool = False, notebooks_dir=NOTEBOOKS,
              build_dir=None, only=None, log_output: bool = False, overrides: dict | None = None,
              lang: str = "en") -> int:
    """Execute every notebook of `notebooks_dir` in order for `profile`; 0 on success, 1 on a failure.

    data_root: None = the embedded world; exports_only: only redo tables/figures from cached results;
    overrides: profile fields to change ({"encoder_weights": None, "steps": 100}), the notebooks'
    `overrides` parameter.
    build_dir: where executed notebooks go (build/<profile>/notebooks) and, when given, the build folder
    the notebooks use (cache, embedded data). only: names or stems to run a subset.
    lang: captions and headers of the tables ("en" | "ko"; a notebook without a `lang` parameter ignores it)."""
    from thesislib.profiles import get_profile
    try:
        get_profile(profile, **(overrides or {}))
    except (ValueError, TypeError) as e:
        _say(f"error: {e}")
        return 2
    if profile == "paper" and data_root in (None, ""):
        _say("error: the paper profile reproduces the thesis on the real GTA5 and Cityscapes: pass their folder "
             "(`thesislib reproduce --profile paper --data-root ROOT`, or `make reproduce PROFILE=paper "
             "DATA_ROOT=ROOT`); to try the paper path on generated data, run `make paper-check`")
        return 2
    nbs = notebooks(notebooks_dir)
    if only:
        wanted = {Path(o).stem for o in only}
        nbs = [nb for nb in nbs if nb.stem in wanted or nb.stem.split("_", 1)[0] in wanted]
    if not nbs:
        _say(f"error: no notebooks NN_*.ipynb in {notebooks_dir}")
        return 2
    out_dir = build_root(build_dir) / profile / "notebooks"
    parameters = {"profile": profile, "data_root": None if data_root in (None, "") else str(data_root),
                  "exports_only": bool(exports_only), "lang": lang}
    if lang not in ("en", "ko"):
        _say(f"error: lang must be en or ko, got {lang!r}")
        return 2
    if build_dir is not None:
        parameters["build_dir"] = str(build_dir)
    if overrides:
        parameters["overrides"] = dict(overrides)
    kernel = kernel_name()
    env = {} if overrides else {EXPORTS_ENV: THESIS}     # changed profile fields: not the thesis' exports
    mode = "exports only (cached results)" if exports_only else "computing what is not cached"
    _say(f"reproduce: profile {profile}, data {parameters['data_root'] or 'embedded world'}, {mode}; "
         f"{len(nbs)} notebooks, kernel {kernel}; executed copies in {out_dir}")
    start = time.time()
    if not (exports_only or only) and Path(notebooks_dir) == NOTEBOOKS:
        trained = _train_side_by_side(profile, data_root, build_dir, overrides)
        if trained is False:
            return 1
        parameters["exports_only"] = bool(trained)      # the notebooks read what was trained (a stage missed fails)
    for i, nb in enumerate(nbs, 1):
        out = out_dir / nb.name
        t0 = time.time()
        _say(f"[{i}/{len(nbs)}] {nb.name:<28}", end="")
        try:
            _execute(nb, out, _declared(nb, parameters), kernel, log_output, env=env)
        except Exception as e:  # noqa: BLE001 - any failure stops the run with one clear message
            _say(f"failed after {elapsed(time.time() - t0)}")
            _say(failure_message(nb, out, e))
            _say(f"stopped: {i - 1} of {len(nbs)} notebooks done in {elapsed(time.time() - start)}")
            return 1
        _say(f"ok  {elapsed(time.time() - t0):>12}")
    _say(f"done: {len(nbs)} notebooks in {elapsed(time.time() - start)}; {_exports_note(profile, data_root, build_dir)}")
    return 0


def _train_side_by_side(profile, data_root, build_dir, overrides) -> bool | None:
    """On a CPU, compute every uncached stage of the seven notebooks before they run, one per core, one
    thread each (`Lab.thesis_calls`, `Lab.prefetch`): no core idles between notebooks, and every stage is
    computed with one thread whatever was cached. True when done, False (after one clear message) when a
    stage failed, None where the notebooks train (a GPU; one core, or the single stage prefetch leaves)."""
    import torch

    from thesislib.experiments import Lab
    if torch.cuda.is_available():
        return None
    lab = Lab(profile, data_root, build_dir=build_dir, **(overrides or {}))
    _say("training every stage the notebooks need, one per core (the world first, if missing)")
    t0 = time.time()
    calls = lab.thesis_calls()
    try:
        lab.prefetch(calls)
    except Exception as e:  # noqa: BLE001 - a failing stage stops the run with one clear message
        _say(f"training failed after {elapsed(time.time() - t0)}: {type(e).__name__}: {e}")
        _say(f"the workers' other output is in {lab.build / 'logs' / 'prefetch.log'}; rerun to resume from the "
             "last checkpoints")
        return False
    if not all(lab.cached(name, kw) for name, kw in calls):     # one core, or one stage left: the notebooks train it
        return None
    _say(f"training done in {elapsed(time.time() - t0)}; the notebooks read the stage cache")
    return True


def _exports_note(profile, data_root, build_dir) -> str:
    try:
        from thesislib.experiments import Lab
        lab = Lab(profile, data_root, build_dir=build_dir, exports=THESIS)
        return f"tables in {lab.tables_dir}, figures in {lab.figures_dir}"
    except Exception:  # noqa: BLE001 - only a hint
        return "tables/ and figures/ written"


# ---------------------------------------------------------------- sweeps
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


def _provenance(profile: str, grid_names) -> dict:
    from thesislib.cache import params_hash
    from thesislib.profiles import get_profile
    p = get_profile(profile)
    return {"profile": p.name, "params": params_hash(asdict(p)), "seeds": list(p.seeds),
            "swept": ", ".join(grid_names)}


def collect(rows: list[dict], names: list[str], stem: str, out_dir: Path, profile: str) -> pd.DataFrame:
    """results.csv, sweep_<stem>.tex/.csv and sweep_<stem>.pdf/.png from the per-point results."""
    from thesislib.io import atomic_write_text
    from thesislib.report import figures, style
    from thesislib.report.tables import write_table
    df = pd.DataFrame(rows)
    atomic_write_text(out_dir / "results.csv", df.to_csv(index=False))
    numeric = [c for c in df.columns if c not in names and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    table = df.set_index(names)[numeric] if numeric else df.set_index(names)
    write_table(table, f"sweep_{stem}", out_dir, caption=f"Sweep of {stem} over {', '.join(names)} "
                f"(profile {profile}).", label=f"tab:sweep_{stem}", provenance=_provenance(profile, names), raw=df,
                precision=2)
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


if __name__ == "__main__":  # python -m thesislib.pipeline PROFILE
    sys.exit(reproduce(*(sys.argv[1:2] or ["smoke"])))
