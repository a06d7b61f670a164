"""The Lab: one profile on one data root, its stages through the stage cache.

`Lab("default")` uses the embedded world (generated on first use) under build/; `Lab("paper",
data_root="/data")` expects `/data/gta5` and `/data/cityscapes` (the real sets). `lab.result(stage)` reads
a stage's result (computing what is missing, its inputs first, unless `compute=False`); `lab.compute(stages)`
computes many side by side (thesislib.runs.runner); `lab.val(stage)` is a model's score on target val. A stage
the committed ledger (thesislib.runs.ledger) knows is done; its files are made again where they are needed.
"""
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Subset

from thesislib import progress
from thesislib.data.check import ensure_checked
from thesislib.data.common import Relabeled
from thesislib.engine import CHECKPOINT, default_device
from thesislib.inference import precision_of
from thesislib.paths import build_root, check_file
from thesislib.profiles import get_profile, result_fields, result_overrides
from thesislib.runs.cache import StageCache, StageMissing
from thesislib.runs.ledger import LEDGER, Ledger, compare, weights
from thesislib.runs.stages import KINDS, S, Stage, code_version


class Lab:
    def __init__(self, profile: str = "default", data_root=None, build_dir=None, compute: bool = True,
                 overrides: dict | None = None, engine: dict | None = None, device: str | None = None,
                 ledger_dir=LEDGER):
        self.profile = get_profile(profile, **dict(overrides or {}))
        given = {k: getattr(self.profile, k) for k in overrides or {}}   # as the profile holds them
        self.overrides = result_overrides(given)          # those that change results (not where stages run)
        self.build = build_root(build_dir)
        self.embedded = data_root in (None, "")
        self.data_root = self.build / "data" / self.profile.name if self.embedded else Path(data_root)
        self.cache = StageCache(self.build / "cache" / self.profile.name)
        self.ledger = Ledger(Path(ledger_dir) / self.profile.name)
        self.compute_missing = compute
        self.engine = dict(engine or {})                  # engine options for every training (e.g. progress=False)
        self.device = torch.device(device) if device else default_device()
        self.precision = precision_of(self.device, self.engine.get("amp", True))
        self.args = {"profile": profile, "data_root": None if self.embedded else str(data_root),
                     "build_dir": str(self.build), "overrides": given, "engine": self.engine,
                     "device": str(self.device), "ledger_dir": str(ledger_dir)}  # rebuilds this Lab in a worker
        self._keys: dict[Stage, str] = {}

    @property
    def seeds(self) -> list[int]:
        return list(self.profile.seeds)

    # ---- data ----------------------------------------------------------------------------------
    def data(self) -> Path:
        """The data root, ready: the embedded world generated if needed, check-data statistics written."""
        if self.embedded and not (self.data_root / "world.json").exists():
            from thesislib.tools import world
            with progress.drawn_here(world):          # its text bar as a widget in Jupyter
                world.write_world(self.data_root, self.profile.name)
        ensure_checked(self.data_root)
        return self.data_root

    def training_root(self) -> Path:
        """Where the trainers read their images: the data root, or with `profile.working_copy` (real data) its
        one-time copy at the working resolution under the build folder (thesislib.data.working: the same
        arrays, a small PNG to decode per item)."""
        root = self.data()
        if self.embedded or not self.profile.working_copy:
            return root
        from thesislib.data.working import working_copy
        key = hashlib.sha256(f"{root.resolve()}|{tuple(self.profile.image_hw)}".encode()).hexdigest()[:12]
        return working_copy(root, self.profile.image_hw, self.build / "working" / f"{root.name}-{key}")

    def data_identity(self) -> dict:
        """What identifies the data in a stage key: the embedded world's generator version and sizes (a
        pure function of them), or a hash of the real sets' check-data listing (their files and labels)."""
        if self.embedded:
            from thesislib.tools.world import identity
            return identity(self.profile)
        self.data()
        digest = hashlib.sha256()
        for kind in ("gta5", "cityscapes"):
            doc = json.loads(check_file(self.data_root / kind).read_text())
            digest.update(json.dumps([doc["excluded"], doc["class_counts"], doc["summary"]["splits"]],
                                     sort_keys=True).encode())
        return {"check_data": digest.hexdigest()[:16]}

    # ---- keys ----------------------------------------------------------------------------------
    def record(self, stage: Stage) -> dict:
        """Everything the stage reads, as its key is made of it."""
        k, p = KINDS[stage.kind], self.profile
        params = {n: self.key(v) if isinstance(v, Stage) else v for n, v in stage.params
                  if not (k.settings and n == "options")}          # options: keyed by their resolved settings
        return {"kind": stage.kind, "params": params, "settings": k.settings(stage, p) if k.settings else None,
                "profile": {f: getattr(p, f) for f in k.fields},
                "inputs": {n: self.key(s) for n, s in stage.needs.items()},
                "data": self._data_identity(), "code": {f: v for m in k.code for f, v in code_version(m).items()},
                "device": self.device.type, "precision": self.precision}

    def _data_identity(self) -> dict:
        if not hasattr(self, "_data_id"):
            self._data_id = self.data_identity()
        return self._data_id

    def key(self, stage: Stage) -> str:
        if stage not in self._keys:
            text = json.dumps(self.record(stage), sort_keys=True, default=str)
            self._keys[stage] = hashlib.sha256(text.encode()).hexdigest()[:12]
        return self._keys[stage]

    def path(self, stage: Stage) -> Path:
        """The stage's folder in the cache: <kind>-<key>."""
        return self.cache.folder(stage.kind, self.key(stage))

    # ---- results -------------------------------------------------------------------------------
    def done(self, stage: Stage) -> bool:
        """Its result is known: in the stage cache or in the ledger."""
        return self.local(stage) or self.ledger.read(self.path(stage)) is not None

    def local(self, stage: Stage) -> bool:
        """Complete in this build's stage cache, with its files."""
        return self.cache.read(self.path(stage)) is not None

    def result(self, stage: Stage, files: bool = False) -> dict:
        """The stage's result (its metrics.json): from the cache, else the ledger (unless `files`: then its
        files are wanted too); computed here if missing and computing is allowed, its inputs' files first."""
        found = self.cache.read(self.path(stage)) or (None if files else self.ledger.read(self.path(stage)))
        if found is not None:
            return found
        if not self.compute_missing:
            raise StageMissing(f"stage {stage} is not cached ({self.path(stage)})"
                               + (" (the ledger has its result, not its files)" if self.done(stage) else "")
                               + "; run `make reproduce` (or drop exports_only) to compute it.")
        for needed in stage.needs.values():
            self.result(needed, files=True)
        return self.run(stage)

    def run(self, stage: Stage) -> dict:
        """Compute one stage whose inputs are in the cache (in this process; on one thread on a CPU); a stage
        the ledger knows is checked against it."""
        inputs = {n: self.path(s) for n, s in stage.needs.items()}
        with progress.naming(stage.words), one_thread_on_cpu():
            result = self.cache.run(self.path(stage), {**self.record(stage), "stage": str(stage),
                                                       "profile_name": self.profile.name},
                                    lambda out: KINDS[stage.kind].compute(self, stage, out, inputs))
        if (known := self.ledger.entry(self.path(stage))) is None:
            return result
        here = weights(self.path(stage))
        differ = compare(known["metrics"], result) + [f"the weights of {f}" for f, d in known.get("weights", {}).items()
                                                      if here.get(f) != d]
        if differ:
            warnings.warn(f"{stage} computed here differs from the ledger's ({self.ledger.file(self.path(stage))}; "
                          f"another kind of CPU?): {'; '.join(differ[:3])}"
                          + (f" and {len(differ) - 3} more" if len(differ) > 3 else ""))
        return result

    def val(self, model: Stage, round_: int | None = None) -> dict:
        """`model`'s scores on target val (mIoU, pixel accuracy, per-class IoU; of a self-training round)."""
        return self.result(S("score", model=model, on="val", round=round_))

    def compute(self, stages, workers: int | None = None, executor: str = "local", files=()) -> int:
        """Compute every stage of `stages` whose result is not known yet, with its inputs, and the stages of
        `files` into this build's cache, side by side (thesislib.runs.runner); returns how many were computed
        (none when this Lab only reads the cache)."""
        if not self.compute_missing:
            return 0
        from thesislib.runs.runner import compute
        return compute(self, list(stages), workers=workers, executor=executor, files=list(files))

    def workers(self) -> int:
        """Stages computed side by side here: one per core on a CPU, `profile.stages_per_gpu` per GPU on a CUDA
        machine (thesislib.runs.runner pins each worker to one GPU)."""
        if self.device.type != "cuda":
            return os.cpu_count() or 1
        from thesislib.runs.runner import gpu_count
        return max(1, gpu_count()) * max(1, self.profile.stages_per_gpu)

    def cached(self, stages) -> bool:
        return all(self.done(s) for s in stages)

    # ---- what the stages' functions use ---------------------------------------------------------
    def checkpoint(self, stage: Stage, round_: int | None = None) -> str:
        """The model checkpoint of a stage, relative to its folder (a self-training stage: its last round's)."""
        if stage.kind == "self_training":
            from thesislib.runs.stages import self_training_config
            return f"round{round_ or self_training_config(stage, self.profile).rounds}/{CHECKPOINT}"
        return CHECKPOINT

    def load_model(self, stage: Stage, round_: int | None = None, folder=None, device=None):
        """The trained task model of a stage (of a self-training round), in eval mode."""
        from thesislib.methods.common import load_segmenter
        folder = Path(folder or self.files(stage))
        return load_segmenter(folder / self.checkpoint(stage, round_), self.profile, device or self.device)

    def files(self, stage: Stage) -> Path:
        """The stage's folder with its files (a model, translated images): computed here when only the ledger
        knows the stage (and computing is allowed)."""
        self.result(stage, files=True)
        return self.path(stage)

    def pool(self, name: str):
        """The target splits pseudo-labeled (`st_pool`), at the working resolution."""
        from thesislib.methods.common import target_set
        from thesislib.methods.self_training import POOL_SPLITS
        return ConcatDataset([target_set(self.training_root(), self.profile, split) for split in POOL_SPLITS[name]])

    def dataset(self, name: str, size=None, cyclegan: Stage | None = None):
        """An evaluation-mode dataset: gta5 | translated (by the first seed's CycleGAN, or `cyclegan`) |
        train | val | train_extra (profile resolution)."""
        from thesislib.methods.common import source_set, target_set
        root = self.data()
        if name == "gta5":
            return source_set(root / "gta5", self.profile, train=False, size=size)
        if name == "translated":
            folder = self.files(cyclegan or S("cyclegan", seed=self.seeds[0]))
            return source_set(folder / "translated", self.profile, train=False, size=size)
        return target_set(root, self.profile, name, size=size)

    def eval_dataset(self, name: str, cyclegan_folder=None):
        """A set as it is scored (inference.PROTOCOL): images at the working resolution, labels at their
        own; a source set is `eval_source_images` evenly spaced images, the translated one scored against
        the original source labels."""
        from thesislib.methods.common import source_set, target_set
        root, p = self.data(), self.profile
        if name not in ("gta5", "translated"):
            return target_set(root, p, name, native_labels=True)
        dataset = labels = source_set(root / "gta5", p, train=False, native_labels=True)
        if name == "translated":
            dataset = Relabeled(source_set(Path(cyclegan_folder) / "translated", p, train=False), labels)
        n = p.eval_source_images
        if n and n < len(dataset):
            dataset = Subset(dataset, np.linspace(0, len(dataset) - 1, n).round().astype(int).tolist())
        return dataset

    # ---- what tables and status show -----------------------------------------------------------
    @property
    def provenance(self) -> dict:
        """Profile (with its overrides), the hash of its fields, seeds and data, for table headers."""
        from thesislib.runs.cache import params_hash
        return {"profile": self.profile.name, "overrides": _jsonable(self.overrides),
                "params": params_hash(asdict(result_fields(self.profile))), "seeds": self.seeds,
                "data_root": "embedded world" if self.embedded else f"real data ({self.data_root.name}/)"}

    def status(self) -> list[dict]:
        """The cache entries of this profile: current (a stage of the thesis' plan), stale and why, or other."""
        from thesislib.runs import plan
        stages = {s for top in plan.thesis(self.profile) for s in _closure(top)}
        return self.cache.status({self.key(s): (s, self.record(s)) for s in stages}, self._code())

    def progress_by_notebook(self) -> list[dict]:
        """Per notebook (in order), the stages it adds to those of the notebooks before it, inputs included: how
        many, how many are done, and their images through a model, in all and still to compute (`make status`)."""
        from thesislib.runs import plan
        seen, rows = set(), []
        for name in plan.NOTEBOOKS:
            own = {s for top in plan.notebook(name, self.profile) for s in _closure(top)} - seen
            seen |= own
            cost = {s: KINDS[s.kind].cost(s, self.profile) for s in own}
            left = [s for s in own if not self.done(s)]
            rows.append({"notebook": name, "stages": len(own), "done": len(own) - len(left),
                         "images": round(sum(cost.values())), "images_left": round(sum(cost[s] for s in left))})
        return rows

    def save_to_ledger(self) -> tuple[int, int]:
        """Add every complete stage of the thesis' plan in this build's cache to the ledger: (added, in it now)."""
        from thesislib.runs import plan
        stages = {s for top in plan.thesis(self.profile) for s in _closure(top)}
        added = sum(self.ledger.add(self.path(s)) for s in stages if self.local(s))
        return added, sum(self.ledger.read(self.path(s)) is not None for s in stages)

    def prune(self) -> list[str]:
        """Delete the cache entries made by older code of their kind (never read again)."""
        return self.cache.prune(self._code())

    @staticmethod
    def _code() -> dict:
        return {k: {f: v for m in kind.code for f, v in code_version(m).items()} for k, kind in KINDS.items()}


def _closure(stage: Stage) -> set[Stage]:
    out = {stage}
    for s in stage.needs.values():
        out |= _closure(s)
    return out


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@contextmanager
def one_thread_on_cpu():
    """Compute a stage on one torch thread on a CPU: a stage's numbers then do not depend on whether it
    trained alone or beside another (thread counts change the order of float sums), and side by side
    is the faster use of the cores (thesislib.runs.runner)."""
    threads = torch.get_num_threads()
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


