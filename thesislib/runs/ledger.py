"""The ledger: the results of finished stages, committed under ledger/<profile>/, so that a run longer than a
machine lives (the default profile is about 12 h on 2 cores) can span sittings on machines that keep nothing
but the repository.

One JSON file a stage, <kind>-<key>.json: its record (what its key is made of), its metrics.json, a digest of
its trained weights, and the machine that saved it. No files: checkpoints, translated sets and pseudo-labels
stay in the stage cache. A stage the ledger knows counts as done (tables, status); where its files are needed
(an input of a stage still to compute, a model a figure draws) it is computed again, and its metrics and
weights are checked against the ledger's (`compare`): the same key on the same kind of CPU gives the same bits.
"""
import hashlib
import json
import os
import platform
import time
from pathlib import Path

from thesislib.io import atomic_write_json
from thesislib.paths import REPO

LEDGER = REPO / "ledger"
UNTIMED = ("seconds", "time", "elapsed")       # metrics that measure the machine, not the result


def machine() -> str:
    """This machine's CPU model, core count and the vector units torch uses (or the GPU's name): CPUs of other
    vector units give other float sums, so other numbers for the same key (AVX2 vs AVX-512: docs/budget.md)."""
    import torch
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()}"


class Ledger:
    def __init__(self, root):
        self.root = Path(root)

    def file(self, stage_dir: Path) -> Path:
        """The ledger's file of the stage whose cache folder is `stage_dir` (<kind>-<key>)."""
        return self.root / f"{Path(stage_dir).name}.json"

    def entry(self, stage_dir: Path) -> dict | None:
        """The ledger's entry of the stage (record, metrics, weights, machine), or None."""
        f = self.file(stage_dir)
        return json.loads(f.read_text()) if f.exists() else None

    def read(self, stage_dir: Path) -> dict | None:
        """The stage's metrics as the ledger holds them, or None."""
        entry = self.entry(stage_dir)
        return None if entry is None else {**entry["metrics"], "run_dir": str(self.file(stage_dir))}

    def add(self, stage_dir: Path) -> bool:
        """Write the complete stage of cache folder `stage_dir` into the ledger; False if it was there already."""
        f = self.file(stage_dir)
        if f.exists():
            return False
        record = json.loads((Path(stage_dir) / "stage.json").read_text())
        metrics = json.loads((Path(stage_dir) / "metrics.json").read_text())
        atomic_write_json(f, {"stage": record.get("stage"), "record": record, "metrics": metrics,
                              "weights": weights(stage_dir), "saved_on": machine(), "saved": time.strftime("%Y-%m-%d")})
        return True

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("*.json"))


def weights(stage_dir: Path) -> dict:
    """A digest of every checkpoint's trained weights in a stage folder: {relative path: sha256 of its tensors}."""
    import torch
    out = {}
    for f in sorted(Path(stage_dir).rglob("checkpoint.pt")):
        digest = hashlib.sha256()
        modules = torch.load(f, map_location="cpu", weights_only=True)["modules"]
        for name, state in sorted(modules.items()):
            for key, tensor in sorted(state.items()) if isinstance(state, dict) else [("", state)]:
                if isinstance(tensor, torch.Tensor):
                    digest.update(f"{name}.{key}".encode())
                    digest.update(tensor.detach().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        out[str(f.relative_to(stage_dir))] = digest.hexdigest()[:16]
    return out


def compare(ledger: dict, computed: dict, tolerance: float = 1e-6) -> list[str]:
    """The metrics that differ between the ledger's result of a stage and the same stage computed again (its
    times excluded), as 'name: ledger -> now'; empty when they agree."""
    def leaves(d, prefix=""):
        for k, v in d.items():
            name, k = f"{prefix}{k}", str(k)
            if isinstance(v, list):
                v = dict(enumerate(v))
            if isinstance(v, dict):
                yield from leaves(v, name + ".")
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and not any(t in k for t in UNTIMED):
                yield name, v
    now = dict(leaves({k: v for k, v in computed.items() if k != "run_dir"}))
    return [f"{k}: {v} -> {now.get(k)}" for k, v in leaves({k: v for k, v in ledger.items() if k != "run_dir"})
            if now.get(k) is None or abs(now[k] - v) > tolerance]
