"""What every notebook shares: `setup` (first cell after the parameters) and `key_numbers` (the last cell),
and `lab_copies`, the working copies `make lab` opens.

Exports: a notebook writes the thesis' tables/ and figures/ only in a thesis export run, which `make reproduce`
marks (THESISLIB_EXPORTS=thesis in the kernel's environment; it runs every notebook at its own defaults).
Run interactively, with the papermill command line or with any parameter changed, it writes under
build/<profile>/explore/ and says so; a sweep point writes beside its results.
"""
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

EXPORTS_ENV, THESIS = "THESISLIB_EXPORTS", "thesis"
REPO = Path(__file__).resolve().parents[1]


def setup(profile: str, data_root=None, exports_only: bool = False, results_path=None, build_dir=None,
          overrides: dict | None = None):
    """(lab, seeds, results): the Lab of this run (the profile with `overrides`, profile fields, applied),
    its profile's seeds, and an empty dict for the key numbers. Prints the profile, the data, and where the
    tables and figures go."""
    from thesislib.experiments import Lab
    warnings.filterwarnings("ignore", message="IProgress not found")   # text bars where ipywidgets is missing
    if results_path:
        exports = Path(results_path).with_suffix("")      # a sweep point: beside its results
    else:
        exports = THESIS if os.environ.get(EXPORTS_ENV) == THESIS else None
    lab = Lab(profile, data_root, build_dir=build_dir, compute=not exports_only, exports=exports, **(overrides or {}))
    where = (f"{_short(lab.tables_dir)}" if lab.tables_dir == lab.figures_dir
             else f"{_short(lab.tables_dir)} and {_short(lab.figures_dir)}")
    if exports == THESIS:
        note = "the thesis' exports: a `make reproduce` run"
    elif results_path:
        note = "a sweep point, beside its results"
    else:
        note = "exploring: the thesis' tables/ and figures/ are written only by `make reproduce`"
    data = "embedded world" if lab.embedded else str(lab.data_root)
    print(f"profile {lab.profile.name} · seeds {', '.join(map(str, lab.seeds))} · data: {data}"
          + (" · exports only (cached results)" if exports_only else "")
          + f"\ntables and figures -> {where} ({note})")
    return lab, lab.seeds, {}


def key_numbers(results: dict, results_path=None) -> dict:
    """Hand the key numbers to a sweep (JSON at `results_path`, when given) and return them as plain Python
    numbers for display (4 decimals)."""
    from thesislib.report.tables import write_results
    write_results(results, results_path)
    return {k: _plain(v) for k, v in results.items()}


def _plain(v):
    v = v.item() if hasattr(v, "item") else v
    return round(v, 4) if isinstance(v, float) else v


def _short(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO)) + "/"
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- make lab: working copies under build/
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lab_copies(notebooks_dir=REPO / "notebooks", work_dir=REPO / "build" / "lab") -> list[str]:
    """Copy the tracked notebooks into `work_dir` for JupyterLab, so exploring (parameter edits, outputs,
    autosaves) never touches them. A copy is made when missing and renewed when its tracked notebook changed
    since it was copied; a renewed copy that was edited is kept as <name>.old.ipynb first. Returns what it did."""
    from thesislib.pipeline import notebooks
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    state_file = work_dir / ".copied.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    done = []
    for nb in notebooks(notebooks_dir):
        copy, source = work_dir / nb.name, _digest(nb)
        record = state.get(nb.name, {})
        if copy.exists() and record.get("source") == source:
            continue
        if copy.exists() and _digest(copy) != record.get("copy"):
            shutil.copyfile(copy, copy.with_suffix(".old.ipynb"))
            done.append(f"{nb.name}: the notebook changed; your edited copy is kept as {copy.with_suffix('.old.ipynb').name}")
        else:
            done.append(f"{nb.name}: copied")
        shutil.copyfile(nb, copy)
        state[nb.name] = {"source": source, "copy": _digest(copy)}
    state_file.write_text(json.dumps(state, indent=1))
    return done
