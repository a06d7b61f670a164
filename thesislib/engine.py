"""One training loop for every method (supervised, CycleGAN, adversarial, entropy, self-training).

A method owns its modules, optimizers and one `training_step`; the engine owns everything else:
device, bf16 autocast and channels_last on CUDA, optional torch.compile, DDP under torchrun,
LR schedule, gradient clipping, per-step reseeding (so a resumed run is bit-identical on CPU),
atomic checkpoints + resume, NaN detection (losses are read from the device only at log and checkpoint
steps, so the other steps never wait on the host), a progress bar (thesislib.progress: named in words, drawn by
the parent process for side-by-side runs) and a JSONL log.
"""
import json
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from thesislib import progress
from thesislib.data.transforms import to_model
from thesislib.io import atomic_write_json

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


@dataclass
class EngineConfig:
    steps: int
    seed: int = 0
    lr_schedule: str = "poly"        # poly | linear_decay (constant, then linear to 0) | constant
    decay_start: float = 0.5         # linear_decay: fraction of steps before decay starts
    warmup: int = 0                  # steps of linear warm-up from 0 before the schedule (fine-tuning a trained model)
    grad_clip: float | None = 10.0
    ckpt_every: int = 200
    log_every: int = 10
    device: str = "auto"             # auto | cpu | cuda
    amp: bool = True                 # bf16 autocast on CUDA
    channels_last: bool = True       # on CUDA
    compile: bool = False
    num_workers: int = 0
    progress: bool = True


class Method:
    """What the engine trains. Subclasses set `modules` and `optimizers` (dicts) and define a step."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def training_step(self, batch: dict, engine: "Engine") -> dict:
        raise NotImplementedError

    def report(self, engine: "Engine") -> dict:
        """JSON-ready numbers the finished run reports beside its losses (scoring is a stage of its own,
        thesislib.runs.scoring: a method never scores itself)."""
        return {}

    def extra_state(self) -> dict:
        """Method state beyond modules/optimizers that a checkpoint must hold (e.g. image pools)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


def lr_factor(schedule: str, step: int, steps: int, decay_start: float = 0.5, warmup: int = 0) -> float:
    """The learning rate's factor at `step`: a linear warm-up over the first `warmup` steps, then `schedule`."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "poly":
        return (1 - step / steps) ** 0.9
    if schedule == "linear_decay":
        start = int(decay_start * steps)
        return 1.0 if step < start else 1.0 - (step - start) / max(1, steps - start)
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown lr_schedule {schedule!r}: use poly, linear_decay or constant")


def reseed(seed: int, step: int) -> None:
    """Every random draw of a step (augmentation, dropout, pools) is a function of (seed, step)."""
    s = (seed * 1_000_003 + step + 1) % (2**31 - 1)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)


def default_device() -> torch.device:
    """CUDA when present, else CPU (what the engine picks with device="auto" in one process)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Engine:
    def __init__(self, out: str | Path, config: EngineConfig):
        self.out = Path(out)
        self.cfg = config
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        want_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if want_cuda else "gloo")
        if want_cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
            torch.backends.cudnn.benchmark = True    # fixed shapes: the fastest convolution algorithms, chosen once
        else:
            self.device = torch.device("cpu")
        self.cuda = self.device.type == "cuda"
        self.main = self.rank == 0
        self.raw: dict[str, nn.Module] = {}   # unwrapped modules (state dicts, evaluation)
        reseed(config.seed, -1)               # build the method after the engine: seeded initialisation

    # ---- helpers a method's training_step uses -------------------------------------------------
    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda and self.cfg.amp else nullcontext()

    def to_device(self, batch: dict) -> dict:
        """The batch on the device: uint8 images normalised there, int64 masks (data.transforms.to_model)."""
        return to_model(batch, self.device, channels_last=self.cuda and self.cfg.channels_last)

    def step(self, method: Method, *names: str) -> None:
        """Clip the gradients of the named optimizers' parameters, step them, zero their gradients."""
        for name in names:
            opt = method.optimizers[name]
            if self.cfg.grad_clip:
                params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

    # ---- checkpoints -----------------------------------------------------------------------------
    def _save(self, method: Method, step: int, elapsed: float) -> None:
        """Atomically write out/checkpoint.pt. The final one (step == steps) holds no optimizer state:
        nothing resumes from it, and it is what the stage cache keeps (a half or a third of the size)."""
        if not self.main:
            return
        state = {
            "step": step,
            "elapsed": elapsed,
            "modules": {k: m.state_dict() for k, m in self.raw.items()},
            "extra": method.extra_state(),
        }
        if step < self.cfg.steps:
            state["optimizers"] = {k: o.state_dict() for k, o in method.optimizers.items()}
        tmp = self.out / f".{CHECKPOINT}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / CHECKPOINT)

    def _load(self, method: Method) -> tuple[int, float]:
        path = self.out / CHECKPOINT
        if not path.exists():
            return 0, 0.0
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
            for k, m in self.raw.items():
                m.load_state_dict(state["modules"][k])
            if int(state["step"]) < self.cfg.steps:      # a final checkpoint has nothing left to resume
                for k, o in method.optimizers.items():
                    o.load_state_dict(state["optimizers"][k])
        except Exception as e:  # noqa: BLE001 - one clear message for any unreadable checkpoint
            raise RuntimeError(f"cannot resume from {path}: {e}. Delete {self.out} to start the run afresh.") from e
        method.load_extra_state(state.get("extra", {}))
        return int(state["step"]), float(state.get("elapsed", 0.0))

    # ---- the loop --------------------------------------------------------------------------------
    def _prepare(self, method: Method) -> None:
        self.raw = dict(method.modules)
        for k, m in self.raw.items():
            m.to(self.device)
            if self.cuda and self.cfg.channels_last:
                m.to(memory_format=torch.channels_last)
        wrapped = {}
        for k, m in self.raw.items():
            if self.world > 1 and any(p.requires_grad for p in m.parameters()):
                m = nn.parallel.DistributedDataParallel(m, device_ids=[self.device.index] if self.cuda else None,
                                                        find_unused_parameters=False)
            if self.cfg.compile and self.cuda:      # compiled on CUDA only (on a CPU it costs more than it gains)
                m = torch.compile(m)
            wrapped[k] = m
        method.modules = wrapped
        for opt in method.optimizers.values():
            for g in opt.param_groups:
                g.setdefault("initial_lr", g["lr"])

    def fit(self, method: Method, make_loader, config: dict | None = None) -> dict:
        """Train `method` for cfg.steps on the batches of `make_loader(start_step)`; returns metrics.

        `config` (JSON-ready) is written to out/config.json; a different config already there is an
        error (a run directory belongs to one run). A finished run returns its metrics at once.
        """
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_config(config)
        if (self.out / "metrics.json").exists():
            return json.loads((self.out / "metrics.json").read_text())
        self._prepare(method)
        start, elapsed = self._load(method)
        log = self._open_log(start)
        t0 = time.time() - elapsed
        bar = progress.bar(self.out, total=cfg.steps, initial=start, disable=not (cfg.progress and self.main))
        for m in method.modules.values():
            m.train()
        step, unread = start, []        # the losses of the steps since the host last read them
        for step, batch in zip(range(start, cfg.steps), make_loader(start)):
            reseed(cfg.seed, step)
            factor = lr_factor(cfg.lr_schedule, step, cfg.steps, cfg.decay_start, cfg.warmup)
            for opt in method.optimizers.values():
                for g in opt.param_groups:
                    g["lr"] = g["initial_lr"] * factor
            unread.append((step, {k: v.detach() if torch.is_tensor(v) else v
                                  for k, v in method.training_step(self.to_device(batch), self).items()}))
            bar.update(1)
            logged = step % cfg.log_every == 0 or step == cfg.steps - 1
            saving = (step + 1) % cfg.ckpt_every == 0 and step + 1 < cfg.steps
            if not (logged or saving):
                continue                # no host sync: the GPU runs ahead
            losses, unread = self._read_losses(unread), []
            if self.main and logged:
                log.write(json.dumps({"step": step, "lr_factor": round(factor, 6), **losses}) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if saving:
                self._save(method, step + 1, time.time() - t0)
        bar.close()
        elapsed = time.time() - t0
        self._save(method, cfg.steps, elapsed)
        for m in self.raw.values():
            m.eval()
        metrics = {"steps": cfg.steps, "seed": cfg.seed, "train_seconds": round(elapsed, 2),
                   "device": str(self.device), **(method.report(self) if self.main else {})}
        if self.main:
            atomic_write_json(self.out / "metrics.json", metrics)
        if self.world > 1:
            dist.barrier()
        log.close()
        return metrics

    def _read_losses(self, unread: list[tuple[int, dict]]) -> dict:
        """The last step's losses as floats, read from the device only at log and checkpoint steps (one
        sync); a NaN/inf in any step since the last read stops the run before a checkpoint could hold it."""
        for step, losses in unread:
            values = {k: float(v) for k, v in losses.items()}
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(
                    f"{self.out}: loss {bad[0]} = {values[bad[0]]} at step {step}; stopped. The last good "
                    f"checkpoint ({self.out / CHECKPOINT}) is kept: lower the learning rate or check the data.")
        return values

    def _check_config(self, config: dict | None) -> None:
        if config is None or not self.main:
            return
        config = {"engine": asdict(self.cfg), **config}
        path = self.out / "config.json"
        if path.exists():
            old = json.loads(path.read_text())
            if json.loads(json.dumps(config)) != old:
                raise ValueError(f"{self.out} holds a run with a different configuration ({path}); "
                                 "use another --out or delete that folder.")
        else:
            atomic_write_json(path, config)

    def _open_log(self, start: int):
        """log.jsonl, keeping only entries before `start` (a resumed run rewrites what it redoes)."""
        path = self.out / "log.jsonl"
        if not self.main:
            return open(os.devnull, "w")
        kept = []
        if path.exists():
            kept = [l for l in path.read_text().splitlines() if l.strip() and json.loads(l)["step"] < start]
        path.write_text("".join(l + "\n" for l in kept))
        return open(path, "a")
