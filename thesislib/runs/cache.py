"""Stage cache: expensive results (trained models, translated sets, pseudo-labels, scores) live in
build/cache/<profile>/<kind>-<key>, the key a hash of what the stage reads (`Lab.record`: its parameters,
the profile fields it uses, its inputs' keys, the data, the code it runs, the device and precision).
Same inputs -> reused; anything it reads changed -> a new key, and `status` says which part changed."""
import hashlib
import json
import shutil
from pathlib import Path

from thesislib.io import atomic_write_json, locked


class StageMissing(RuntimeError):
    """A result was asked for without permission to compute it (exports-only mode)."""


def params_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


class StageCache:
    def __init__(self, root):
        self.root = Path(root)

    def folder(self, kind: str, key: str) -> Path:
        return self.root / f"{kind}-{key}"

    def read(self, d: Path) -> dict | None:
        """The result of the complete stage in folder `d`, or None."""
        done, info = d / "metrics.json", d / "stage.json"
        if done.exists() and info.exists() and json.loads(info.read_text()).get("complete"):
            return {**json.loads(done.read_text()), "run_dir": str(d)}
        return None

    def run(self, d: Path, record: dict, fn) -> dict:
        """fn(d) -> metrics, called unless the stage in `d` is complete; it resumes a partial run. A process
        computing a stage holds its lock: another asking for it waits, then reads the result."""
        if (result := self.read(d)) is not None:
            return result
        with locked(d):
            if (result := self.read(d)) is not None:
                return result
            atomic_write_json(d / "stage.json", {**record, "complete": False})
            result = fn(d)
            atomic_write_json(d / "metrics.json", result)
            atomic_write_json(d / "stage.json", {**record, "complete": True})
        return {**result, "run_dir": str(d)}

    def entries(self) -> list[tuple[Path, dict]]:
        return [(f.parent, json.loads(f.read_text())) for f in sorted(self.root.glob("*/stage.json"))]

    def status(self, current: dict, code: dict) -> list[dict]:
        """One row per cache entry: stage, folder, complete/partial, bytes, and its state: "current" (a stage
        of the plan, `current` = {key: (stage, record)}), "stale: <what changed>" (its code is older than
        the current `code` of its kind, or the plan's stage of the same name now reads something else), or
        "other" (an exploration: current code, a stage the plan does not name, e.g. other options)."""
        by_name = {str(stage): r for stage, r in current.values()}
        rows = []
        for d, info in self.entries():
            key = d.name.rsplit("-", 1)[-1]
            if key in current:
                state = "current"
            elif info.get("code") != code.get(info.get("kind")):
                state = "stale: " + _changed("code of", info.get("code") or {}, code.get(info.get("kind")) or {})
            else:
                twin = by_name.get(info.get("stage"))
                state = "stale: " + _why(info, twin) if twin else "other"
            rows.append({"stage": info.get("stage", info.get("kind")), "dir": d.name,
                         "state": "complete" if info.get("complete") else "partial", "status": state,
                         "bytes": sum(f.stat().st_size for f in d.rglob("*") if f.is_file())})
        return rows

    def prune(self, code: dict) -> list[str]:
        """Delete the entries made by older code of their kind (never read again); returns their folder names."""
        old = [d for d, info in self.entries() if info.get("code") != code.get(info.get("kind"))]
        for d in old:
            shutil.rmtree(d)
        return [d.name for d in old]


def _changed(what: str, old: dict, new: dict) -> str:
    names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return f"{what} {', '.join(names[:4])}{' ...' if len(names) > 4 else ''} changed"


def _why(old: dict, new: dict) -> str:
    """Which part of a stage's record differs between an entry and the plan's stage of the same identity."""
    parts = []
    for part in ("settings", "profile", "inputs", "data", "device", "precision"):
        if old.get(part) != new.get(part):
            if isinstance(new.get(part), dict) and isinstance(old.get(part), dict):
                parts.append(_changed(f"{part}:", old[part], new[part]))
            else:
                parts.append(f"{part} changed")
    return "; ".join(parts) or "key changed"
