"""What every notebook shares: `setup` (the first cell after the parameters) and `key_numbers` (the last
cell), and `lab_copies`, the working copies `make lab` opens.

Exports: a notebook writes the thesis' tables/ and figures/ only when its `exports` parameter is "thesis"
(what `make reproduce` passes); run interactively, with the papermill command line or with any profile
field changed, it writes under build/<profile>/explore/ and says so; a sweep point writes beside its results.
"""
import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd

from thesislib.paths import REPO
from thesislib.runs.chapters import Exports
from thesislib.runs.lab import Lab

THESIS = "thesis"
CHECK_PROFILES = ("smoke", "paper-check")      # test runs: their thesis exports stay under build/<profile>/


def setup(profile: str, data_root=None, exports_only: bool = False, results_path=None, build_dir=None,
          overrides: dict | None = None, exports: str | None = None, lang: str = "en",
          notebook: str = "") -> tuple[Lab, Exports]:
    """(lab, out): the Lab of this run (the profile with `overrides`, profile fields, applied; it computes
    what is not cached unless `exports_only`) and where its tables and figures go (`out`, which also
    collects the key numbers). Prints the profile, the data, and where the exports go."""
    warnings.filterwarnings("ignore", message="IProgress not found")   # text bars where ipywidgets is missing
    pd.set_option("display.max_colwidth", None)                         # stage names in full
    lab = Lab(profile, data_root, build_dir=build_dir, compute=not exports_only, overrides=overrides)
    if results_path:                                # a sweep point: beside its results
        tables = figures = Path(results_path).with_suffix("")
        note = "a sweep point, beside its results"
    elif exports == THESIS and not lab.overrides:      # a changed profile never writes the thesis' exports
        own = lab.build / lab.profile.name if lab.profile.name in CHECK_PROFILES else REPO
        tables, figures = own / "tables", own / "figures"
        note = "the thesis' exports: a `make reproduce` run"
    else:
        tables, figures = (lab.build / lab.profile.name / "explore" / d for d in ("tables", "figures"))
        note = "exploring: the thesis' tables/ and figures/ are written only by `make reproduce`"
    where = _short(tables) if tables == figures else f"{_short(tables)} and {_short(figures)}"
    data = "embedded world" if lab.embedded else str(lab.data_root)
    changed = f" · changed: {', '.join(f'{k}={v}' for k, v in lab.overrides.items())}" if lab.overrides else ""
    print(f"profile {lab.profile.name}{changed} · seeds {', '.join(map(str, lab.seeds))} · data: {data}"
          + (" · exports only (cached results)" if exports_only else "") + f"\ntables and figures -> {where} ({note})")
    return lab, Exports(Path(tables), Path(figures), lang, notebook)


def rows(plan_rows: dict) -> pd.DataFrame:
    """What a table or figure compares, as a notebook shows it: one line per row of `plan_rows` (a function
    of thesislib.runs.plan), one column per seed, each cell the stage it reads (a score named by its model)."""
    def name(s):
        if s.kind != "score":
            return str(s)
        return f"{s['model']} on {s['on']}" + (f", round {s['round']}" if s.get("round") else "")
    keys = [tuple("–" if v is None else v for v in row) if isinstance(row, tuple) else row for row in plan_rows]
    return pd.DataFrame([{f"seed {k}": name(s) for k, s in per_seed.items()} for per_seed in plan_rows.values()],
                        index=pd.Index(keys))


def key_numbers(out: Exports, results_path=None) -> dict:
    """Hand the key numbers to a sweep (JSON at `results_path`, when given) and return them as plain Python
    numbers for display (4 decimals)."""
    from thesislib.io import atomic_write_json
    plain = {k: _plain(v) for k, v in out.results.items()}
    if results_path:
        atomic_write_json(results_path, plain)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in plain.items()}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


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
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    state_file = work_dir / ".copied.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    done = []
    for nb in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
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
