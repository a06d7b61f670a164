"""Stage cache: expensive results (trained models, translated sets, pseudo-labels) live in
build/cache/<profile>/<stage>-<key>, key = hash(stage, parameters, code version). Same inputs ->
reused; changed parameters or training code -> a new key (the old entry shows as stale)."""
import hashlib
import json
from pathlib import Path

from thesislib.io import atomic_write_json

PACKAGE = Path(__file__).resolve().parent
# The code whose change invalidates trained results (reporting code does not).
TRAINING_CODE = ["engine.py", "losses.py", "pseudo.py", "inference.py", "metrics.py", "models", "methods", "data"]


class StageMissing(RuntimeError):
    """A result was asked for without permission to compute it (exports-only mode)."""


def code_version() -> str:
    h = hashlib.sha256()
    for entry in TRAINING_CODE:
        for f in sorted((PACKAGE / entry).rglob("*.py")) if (PACKAGE / entry).is_dir() else [PACKAGE / entry]:
            h.update(f.relative_to(PACKAGE).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def params_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


class StageCache:
    def __init__(self, root):
        self.root = Path(root)

    def path(self, stage: str, params: dict) -> Path:
        return self.root / f"{stage}-{params_hash({'stage': stage, 'params': params, 'code': code_version()})}"

    def run(self, stage: str, params: dict, fn, compute: bool = True) -> dict:
        """fn(run_dir) -> metrics, called unless the stage is complete; it resumes a partial run."""
        d = self.path(stage, params)
        done = d / "metrics.json"
        if done.exists() and (d / "stage.json").exists() and json.loads((d / "stage.json").read_text()).get("complete"):
            return {**json.loads(done.read_text()), "run_dir": str(d)}
        if not compute:
            raise StageMissing(f"stage {stage!r} with these parameters is not cached ({d}); "
                               "run `make reproduce` (or drop exports_only) to compute it.")
        info = {"stage": stage, "params": params, "code": code_version(), "complete": False}
        atomic_write_json(d / "stage.json", info)
        result = fn(d)
        atomic_write_json(d / "stage.json", {**info, "complete": True})
        return {**result, "run_dir": str(d)}

    def status(self) -> list[dict]:
        """One row per cached stage: name, key, complete/partial, current/stale."""
        current, rows = code_version(), []
        for info_file in sorted(self.root.glob("*/stage.json")):
            info = json.loads(info_file.read_text())
            rows.append({"stage": info["stage"], "dir": info_file.parent.name,
                         "state": "complete" if info.get("complete") else "partial",
                         "code": "current" if info["code"] == current else "stale"})
        return rows
