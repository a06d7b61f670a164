"""What the notebooks call: the thesis' experiments on one data root at one profile, through the
stage cache. `Lab("default")` uses the embedded world (generated on first use) under build/;
`Lab("paper", data_root="/data")` expects `/data/gta5` and `/data/cityscapes` (the real sets).

Where tables and figures go (`tables_dir`, `figures_dir`): only a thesis export run (`exports="thesis"`, what
`make reproduce` runs) writes the repository's tables/ and figures/ (build/<profile>/ at the check profiles); any
other Lab writes under build/<profile>/explore/, or into the folder given as `exports` (a sweep point)."""
import json
import os
import sys
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from thesislib import progress
from thesislib.cache import StageCache, StageMissing, params_hash
from thesislib.data.check import ensure_checked
from thesislib.data.common import Relabeled
from thesislib.engine import CHECKPOINT, default_device
from thesislib.inference import evaluate
from thesislib.io import atomic_write_json
from thesislib.methods.common import source_set, target_set
from thesislib.methods.adversarial import train_adversarial
from thesislib.methods.cyclegan import train_cyclegan
from thesislib.methods.entropy import train_entropy
from thesislib.methods.fda import train_fda
from thesislib.methods.self_training import load_segmenter, train_self_training
from thesislib.methods.supervised import train_supervised
from thesislib.notebook import THESIS
from thesislib.paths import build_root
from thesislib.profiles import get_profile

REPO = Path(__file__).resolve().parents[1]
CHECK_PROFILES = ("smoke", "paper-check")      # test runs: their exports stay under build/<profile>/
# stage -> words for progress bars ("oracle · seed 0")
STAGE_NAMES = {"source_only": "source only", "oracle": "oracle", "cyclegan": "CycleGAN", "translated": "translated source",
               "fda": "FDA", "adversarial_output": "output-level adversarial",
               "adversarial_feature": "feature-level adversarial", "entropy": "entropy minimisation",
               "self_training": "self-training"}
FDA_BETA = 0.01                                # FDA's low-frequency window (notebook 04's default)
_UNNAMED = {"seed", "source", "source_root", "teacher", "level", "init", "split_batch"}   # said by the stage name, or paths


class Lab:
    def __init__(self, profile: str = "default", data_root=None, build_dir=None, compute: bool = True,
                 exports=None, **overrides):
        self._args = {"profile": profile, "data_root": data_root, "build_dir": build_dir, **overrides}
        self.profile = get_profile(profile, **overrides)
        self.build = build_root(build_dir)
        self.embedded = data_root in (None, "")
        self.data_root = self.build / "data" / self.profile.name if self.embedded else Path(data_root)
        self.cache = StageCache(self.build / "cache" / self.profile.name)
        self.compute = compute
        self.exports = exports
        if exports == THESIS:          # the thesis' own exports (make reproduce); the check profiles never touch them
            own = self.build / self.profile.name if self.profile.name in CHECK_PROFILES else REPO
            self.tables_dir, self.figures_dir = own / "tables", own / "figures"
        elif exports:                  # a given folder (a sweep point: beside its results)
            self.tables_dir = self.figures_dir = Path(exports)
        else:                          # exploring: never over the thesis' exports
            explore = self.build / self.profile.name / "explore"
            self.tables_dir, self.figures_dir = explore / "tables", explore / "figures"

    @property
    def seeds(self) -> list[int]:
        return list(self.profile.seeds)

    # ---- data ----------------------------------------------------------------------------------
    def data(self) -> Path:
        """The data root, ready: the embedded world generated if needed, check-data statistics written."""
        if self.embedded and not (self.data_root / "world.json").exists():
            from thesislib.data import world
            with progress.drawn_here(world):          # its text bar as a widget in Jupyter
                world.write_world(self.data_root, self.profile.name)
        ensure_checked(self.data_root)
        return self.data_root

    @property
    def provenance(self) -> dict:
        """Profile, parameter hash and seeds for table headers."""
        return {"profile": self.profile.name, "params": params_hash(asdict(self.profile)),
                "seeds": list(self.profile.seeds), "data_root": "embedded world" if self.embedded else str(self.data_root)}

    def _run(self, stage: str, fn, **params) -> dict:
        data = f"embedded world ({self.profile.name})" if self.embedded else str(self.data_root.resolve())
        key = {"profile": asdict(self.profile), "data_root": data, **params}   # no checkout path in the key
        with progress.naming(run_name(stage, params)), one_thread_on_cpu():
            return self.cache.run(stage, key, lambda out: fn(self.data(), out, self.profile, **params), self.compute)

    def prefetch(self, calls: list[tuple[str, dict]], workers: int | None = None) -> None:
        """Compute the uncached stages among `calls` [(Lab method name, keyword arguments), ...] side by
        side, then return; afterwards the same calls read the stage cache. On a CPU every stage trains on
        one thread (`one_thread_on_cpu`), and two one-thread trainings do about 1.35x the work of one
        two-thread training; so `workers` processes (default: one per core) take the pending calls in
        order. A call that needs the stage of an earlier one (an adversarial run, its translated teacher)
        waits for it: order the calls so that it rarely has to, longest first. On CUDA (one GPU trains one
        model at a time), and for a single pending call, the ordinary calls compute them in turn."""
        if not self.compute or torch.cuda.is_available():
            return
        self.data()                               # the world and its statistics, before the workers start
        pending = [(name, kw) for name, kw in calls if not self.cached(name, kw)]
        workers = min(workers or os.cpu_count() or 1, len(pending))
        if workers < 2:
            return
        ctx = get_context("spawn")
        sink = ctx.Queue()                        # the workers' progress: this process draws one bar per run
        logs = self.build / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(sink, str(logs))) as pool:
            futures = [pool.submit(_compute_stage, self._args, name, kw) for name, kw in pending]
            progress.Board(sink).follow(futures)
            for future in futures:
                if not future.cancelled():
                    future.result()               # a failing stage raises here, named by its traceback

    def thesis_calls(self) -> list[tuple[str, dict]]:
        """Every stage the seven notebooks compute at their default parameters, as `prefetch` calls in an
        order for two workers: CycleGAN first (the longest, and the translated teachers need it), beside it
        what needs nothing, then the teachers, then what starts from them, longest first. `make reproduce`
        computes them all side by side before it runs the notebooks (which then read the cache)."""
        seeds, p = self.seeds, self.profile
        each = lambda name, **kw: [(name, {"seed": s, **kw}) for s in seeds]   # noqa: E731
        few = [f for f in p.fractions if f < 1]
        semi = [f for f in p.fractions if f < 1 or p.st_pool != "train"]      # as notebook 06 decides
        return ([("cyclegan", {})] + each("oracle") + each("source_only")
                + [c for f in few for c in each("oracle", fraction=f)] + each("fda", beta=FDA_BETA)
                + each("translated")
                + [c for on in ("gta5", "translated", "val") for c in each("score", on=on, stage="oracle")]
                + each("self_training") + each("adversarial", level="output") + each("adversarial", level="feature")
                + each("entropy") + [c for f in semi for c in each("semi_supervised", fraction=f)])

    def cached(self, name: str, kw: dict) -> bool:
        """Whether the call `getattr(self, name)(**kw)` would only read the stage cache."""
        self.compute = False
        try:
            getattr(self, name)(**kw)
            return True
        except StageMissing:
            return False
        finally:
            self.compute = True

    # ---- experiments ---------------------------------------------------------------------------
    def source_only(self, seed=0, **kw):
        return self._run("source_only", train_supervised, seed=seed, source="gta5", **kw)

    def oracle(self, seed=0, fraction=1.0, **kw):
        return self._run("oracle", train_supervised, seed=seed, source="cityscapes", fraction=fraction, **kw)

    def cyclegan(self, seed=0):
        result = self._run("cyclegan", train_cyclegan, seed=seed)
        return {**result, "translated_root": str(Path(result["run_dir"]) / "translated")}

    def translated(self, seed=0, **kw):
        """Source-only training on the CycleGAN-translated source set ("adapted synthetic")."""
        root = self.cyclegan()["translated_root"]
        return self._run("translated", train_supervised, seed=seed, source="gta5", source_root=root, **kw)

    def fda(self, seed=0, beta=FDA_BETA):
        return self._run("fda", train_fda, seed=seed, beta=beta)

    def teacher(self, seed=0) -> str:
        """The checkpoint of the translated-source model of `seed`: the self-training teacher, and where the
        adversarial and entropy baselines start (each adapts it for `adapt_steps` half-and-half batches)."""
        return str(Path(self.translated(seed)["run_dir"]) / CHECKPOINT)

    def adversarial(self, level="output", seed=0, **kw):
        root = self.cyclegan()["translated_root"]
        return self._run(f"adversarial_{level}", train_adversarial, seed=seed, level=level, source_root=root,
                         init=self.teacher(seed), split_batch=True, **kw)

    def entropy(self, seed=0, **kw):
        root = self.cyclegan()["translated_root"]
        return self._run("entropy", train_entropy, seed=seed, source_root=root, init=self.teacher(seed),
                         split_batch=True, **kw)

    def self_training(self, seed=0, **kw):
        """The proposed method; the teacher is the translated-source model of the same seed."""
        root = self.cyclegan()["translated_root"]
        return self._run("self_training", train_self_training, seed=seed, source_root=root, teacher=self.teacher(seed), **kw)

    def semi_supervised(self, fraction, seed=0, rounds=1, **kw):
        """Synthetic teacher + self-training with a labeled fraction of target-train images."""
        return self.self_training(seed=seed, labeled_fraction=fraction, rounds=rounds, **kw)

    def dataset(self, name: str, size=None):
        """An evaluation-mode dataset: gta5 | translated | train | val | train_extra (profile resolution)."""
        root = self.data()
        if name == "gta5":
            return source_set(root / "gta5", self.profile, train=False, size=size)
        if name == "translated":
            return source_set(self.cyclegan()["translated_root"], self.profile, train=False, size=size)
        return target_set(root, self.profile, name, size=size)

    def eval_dataset(self, name: str):
        """A set as it is scored (inference.PROTOCOL): images at the working resolution, labels at their
        own; the translated source is scored against the original source labels."""
        root = self.data()
        if name in ("gta5", "translated"):
            labels = source_set(root / "gta5", self.profile, train=False, native_labels=True)
            if name == "gta5":
                return labels
            return Relabeled(source_set(self.cyclegan()["translated_root"], self.profile, train=False), labels)
        return target_set(root, self.profile, name, native_labels=True)

    def evaluate_on(self, result: dict, name: str) -> dict:
        """Metrics of a result's model on another set (cached beside the run as eval_<name>[_<n>].json);
        a source set (gta5, translated) is scored on `profile.eval_source_images` evenly spaced images."""
        dataset, n = self.eval_dataset(name), self.profile.eval_source_images
        if name in ("gta5", "translated") and n and n < len(dataset):
            spaced = np.linspace(0, len(dataset) - 1, n).round().astype(int).tolist()
            dataset, name = Subset(dataset, spaced), f"{name}_{n}"
        path = Path(result["run_dir"]) / f"eval_{name}.json"
        if not path.exists():
            if not self.compute:
                raise StageMissing(f"{path} is not cached; run `make reproduce` first.")
            device = default_device()
            with one_thread_on_cpu():
                atomic_write_json(path, evaluate(self.load_model(result, device=device), dataset, device,
                                                 num_workers=self.profile.num_workers))
        return json.loads(path.read_text())

    def score(self, on: str, stage: str, **kw) -> dict:
        """`evaluate_on(<stage>(**kw), on)`: a stage's model scored on another set, as one `prefetch` call."""
        return self.evaluate_on(getattr(self, stage)(**kw), on)

    def load_model(self, result: dict, round_: int | None = None, device="cpu"):
        """The trained task model of a result (a self-training result: its last or a given round)."""
        run = Path(result["run_dir"])
        if "rounds" in result:
            run = run / f"round{round_ or len(result['rounds'])}"
        return load_segmenter(run / CHECKPOINT, self.profile, torch.device(device))


@contextmanager
def one_thread_on_cpu():
    """Compute a stage on one torch thread on a CPU: a stage's numbers then do not depend on whether it
    trained alone or beside another (thread counts change the order of float sums), and side by side
    is the faster use of the cores (`Lab.prefetch`)."""
    threads = torch.get_num_threads()
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_name(stage: str, params: dict) -> str:
    """A run in words for its progress bar: "oracle · seed 0", "oracle · seed 1 · fraction 0.125"."""
    words = [STAGE_NAMES.get(stage, stage.replace("_", " "))]
    if "seed" in params:
        words.append(f"seed {params['seed']}")
    words += [f"{k.replace('_', ' ')} {v}" for k, v in params.items()
              if k not in _UNNAMED and not (k == "fraction" and v == 1.0)]
    return " · ".join(words)


def _init_worker(sink, logs: str) -> None:
    """A `Lab.prefetch` worker: its bars are drawn by the parent; what else it writes to stderr (warnings,
    the bars of pseudo-labelling and translation) goes to build/logs/prefetch.log."""
    progress.send_to(sink)
    sys.stderr = open(Path(logs) / "prefetch.log", "a", buffering=1)


def _compute_stage(lab_args: dict, name: str, kw: dict) -> None:
    """Worker of `Lab.prefetch`: one stage in a fresh process (set up by `_init_worker`)."""
    getattr(Lab(**lab_args), name)(**kw)
