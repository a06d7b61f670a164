"""`thesislib reproduce`: every stage of the thesis' plan (thesislib.runs.plan), computed side by side
(thesislib.runs.runner: one per core, or SLURM jobs), then every `notebooks/NN_*.ipynb` in order with Papermill
at one profile, reading the stage cache. The executed copies go to build/<profile>/notebooks/ (the committed
notebooks stay output-free); the notebooks get `exports="thesis"`, so they write tables/ and figures/
(any other run of a notebook writes under build/). A failing notebook stops the run, names the notebook and
the cell, and keeps the partially executed copy for inspection.
"""
import os
import sys
import time
from pathlib import Path

from thesislib.paths import REPO, build_root

NOTEBOOKS = REPO / "notebooks"
KERNEL = "thesislib"          # installed by `make setup`; python3 otherwise


def kernel_name() -> str:
    """$THESISLIB_KERNEL if set, else "thesislib" when that kernelspec is installed (make setup), else "python3"."""
    if os.environ.get("THESISLIB_KERNEL"):
        return os.environ["THESISLIB_KERNEL"]
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


def _kernel_manager(log):
    """A kernel manager whose kernel writes its own stderr/stdout (startup warnings, crashes) to `log`
    (an open file) instead of the terminal, so the progress lines stay readable."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stderr", log)
            kw.setdefault("stdout", log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


def kernel_log(out: Path) -> Path:
    return out.with_suffix(".kernel.log")


def _execute(nb: Path, out: Path, parameters: dict, kernel: str, log_output: bool = False):
    import papermill as pm
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(kernel_log(out), "w") as log:
        return pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name=kernel, cwd=str(REPO),
                                   progress_bar=False, log_output=log_output, kernel_manager_class=_kernel_manager(log))


def _declared(nb: Path, parameters: dict) -> dict:
    """The parameters `nb` declares in its `parameters` cell (profile always: a notebook must not
    silently ignore it)."""
    import papermill as pm
    try:
        declared = pm.inspect_notebook(str(nb))
    except Exception:  # noqa: BLE001 - unreadable here: papermill reports it when it executes
        return parameters
    return {k: v for k, v in parameters.items() if k in declared or k in ("profile", "overrides", "exports")}


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


def jsonable(overrides: dict | None) -> dict:
    """Profile overrides as Papermill can pass them: tuples as lists (it would pass a tuple as its text)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (overrides or {}).items()}


def reproduce(profile: str = "default", data_root=None, exports_only: bool = False, notebooks_dir=NOTEBOOKS,
              build_dir=None, only=None, log_output: bool = False, overrides: dict | None = None,
              lang: str = "en", executor: str = "local") -> int:
    """Compute the stages of the notebooks, then execute every notebook of `notebooks_dir` in order for
    `profile`; 0 on success, 1 on a failure, 2 for bad arguments.

    data_root: None = the embedded world; exports_only: only redo tables/figures from cached results;
    overrides: profile fields to change ({"encoder_weights": None, "steps": 100}), the notebooks'
    `overrides` parameter (their exports then go under build/<profile>/explore/).
    build_dir: where executed notebooks go (build/<profile>/notebooks) and, when given, the build folder
    the notebooks use (cache, embedded data). only: names or stems to run a subset.
    lang: captions and headers of the tables ("en" | "ko"). executor: "local" (one stage per core) or
    "slurm" (one SLURM job per stage, through submitit)."""
    from thesislib.profiles import get_profile
    try:
        p = get_profile(profile, **(overrides or {}))
    except (ValueError, TypeError) as e:
        _say(f"error: {e}")
        return 2
    if profile == "paper" and data_root in (None, ""):
        _say("error: the paper profile reproduces the thesis on the real GTA5 and Cityscapes: pass their folder "
             "(`thesislib reproduce --profile paper --data-root ROOT`, or `make reproduce PROFILE=paper "
             "DATA_ROOT=ROOT`); to try the paper path on generated data, run `make paper-check`")
        return 2
    if lang not in ("en", "ko"):
        _say(f"error: lang must be en or ko, got {lang!r}")
        return 2
    nbs = notebooks(notebooks_dir)
    if only:
        wanted = {Path(o).stem for o in only}
        nbs = [nb for nb in nbs if nb.stem in wanted or nb.stem.split("_", 1)[0] in wanted]
    if not nbs:
        _say(f"error: no notebooks NN_*.ipynb in {notebooks_dir}")
        return 2
    out_dir = build_root(build_dir) / p.name / "notebooks"
    parameters = {"profile": profile, "data_root": None if data_root in (None, "") else str(data_root),
                  "exports_only": bool(exports_only), "lang": lang, "exports": "thesis"}
    if build_dir is not None:
        parameters["build_dir"] = str(build_dir)
    if overrides:
        parameters["overrides"] = jsonable(overrides)
    kernel = kernel_name()
    mode = "exports only (cached results)" if exports_only else "computing what is not cached"
    _say(f"reproduce: profile {profile}, data {parameters['data_root'] or 'embedded world'}, {mode}; "
         f"{len(nbs)} notebooks, kernel {kernel}; executed copies in {out_dir}")
    start = time.time()
    if not exports_only and Path(notebooks_dir) == NOTEBOOKS:
        if not _compute_stages(profile, data_root, build_dir, overrides, [nb.stem for nb in nbs], executor):
            return 1
        parameters["exports_only"] = True         # the notebooks read what was computed (a stage missed fails)
    for i, nb in enumerate(nbs, 1):
        out = out_dir / nb.name
        t0 = time.time()
        _say(f"[{i}/{len(nbs)}] {nb.name:<28}", end="")
        try:
            _execute(nb, out, _declared(nb, parameters), kernel, log_output)
        except Exception as e:  # noqa: BLE001 - any failure stops the run with one clear message
            _say(f"failed after {elapsed(time.time() - t0)}")
            _say(failure_message(nb, out, e))
            _say(f"stopped: {i - 1} of {len(nbs)} notebooks done in {elapsed(time.time() - start)}")
            return 1
        _say(f"ok  {elapsed(time.time() - t0):>12}")
    _say(f"done: {len(nbs)} notebooks in {elapsed(time.time() - start)}")
    return 0


def _compute_stages(profile, data_root, build_dir, overrides, names, executor) -> bool:
    """Every stage the notebooks `names` read (thesislib.runs.plan), side by side; False after one clear
    message when a stage failed."""
    from thesislib.runs import plan
    from thesislib.runs.lab import Lab
    from thesislib.runs.runner import StageFailed
    device = "cuda" if executor == "slurm" and _profile(profile, overrides).job_gpus else None
    lab = Lab(profile, data_root, build_dir=build_dir, overrides=overrides, device=device)
    stages = list(dict.fromkeys(s for name in names if name in plan.NOTEBOOKS for s in plan.notebook(name, lab.profile)))
    drawn = list(dict.fromkeys(s for name in names for s in plan.drawn(name, lab.profile)))
    where = "as SLURM jobs" if executor == "slurm" else "side by side"
    _say(f"computing the {len(stages)} stages the notebooks read (and their inputs), {where}; the world first, if missing")
    t0 = time.time()
    try:
        lab.compute(stages, executor=executor, files=drawn)
    except StageFailed as e:
        _say(f"failed after {elapsed(time.time() - t0)}: {e}")
        return False
    _say(f"stages done in {elapsed(time.time() - t0)}; the notebooks read the stage cache")
    return True


def _profile(name, overrides):
    from thesislib.profiles import get_profile
    return get_profile(name, **(overrides or {}))


if __name__ == "__main__":  # python -m thesislib.runs.pipeline PROFILE
    sys.exit(reproduce(*(sys.argv[1:2] or ["smoke"])))
