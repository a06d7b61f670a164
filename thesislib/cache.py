"""Stage cache: expensive results (trained models, translated sets, pseudo-labels) live in
build/cache/<profile>/<stage>-<key>, key = hash(stage, parameters, code version). Same inputs ->
reused; changed parameters or training code -> a new key (the old entry shows as stale)."""
import contextlib
import hashlib
import json
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:          # not on Windows: no cross-process lock there
    fcntl = None

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
        """fn(run_dir) -> metrics, called unless the stage is complete; it resumes a partial run.
        A process computing a stage holds its lock: another asking for it waits, then reads the result."""
        d = self.path(stage, params)
        if (result := self._complete(d)) is not None:
            return result
        if not compute:
            raise StageMissing(f"stage {stage!r} with these parameters is not cached ({d}); "
                               "run `make reproduce` (or drop exports_only) to compute it.")
        with locked(d):
            if (result := self._complete(d)) is not None:
                return result
            info = {"stage": stage, "params": params, "code": code_version(), "complete": False}
            atomic_write_json(d / "stage.json", info)
            result = fn(d)
            atomic_write_json(d / "stage.json", {**info, "complete": True})
        return {**result, "run_dir": str(d)}

    @staticmethod
    def _complete(d: Path) -> dict | None:
        done, info = d / "metrics.json", d / "stage.json"
        if done.exists() and info.exists() and json.loads(info.read_text()).get("complete"):
            return {**json.loads(done.read_text()), "run_dir": str(d)}
        return None

    def status(self) -> list[dict]:
        """One row per cached stage: name, folder, complete/partial, current/stale, bytes on disk."""
        current, rows = code_version(), []
        for info_file in sorted(self.root.glob("*/stage.json")):
            info = json.loads(info_file.read_text())
            rows.append({"stage": info["stage"], "dir": info_file.parent.name,
                         "state": "complete" if info.get("complete") else "partial",
                         "code": "current" if info["code"] == current else "stale",
                         "bytes": sum(f.stat().st_size for f in info_file.parent.rglob("*") if f.is_file())})
        return rows

    def prune(self) -> list[str]:
        """Delete the stale entries (trained by older code: never read again); returns their folder names."""
        stale = [self.root / r["dir"] for r in self.status() if r["code"] == "stale"]
        for d in stale:
            shutil.rmtree(d)
        return [d.name for d in stale]


@contextlib.contextmanager
def locked(d: Path):
    """An exclusive lock on stage folder `d` (released when the holder exits, even if it is killed)."""
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        yield
