"""Training-throughput benchmark: fp32 eager vs bf16 autocast + channels_last (+ torch.compile).

Measures images/s of one full training step of
  * the task model (DeepLabV3+, the `Supervised` method's step: forward, pixel CE, backward,
    gradient clipping, fused AdamW step) on random images and random labels, and
  * CycleGAN (the `CycleGAN` method's step: G step with 2 generators, LSGAN + cycle + identity
    losses, then the D step of 2 PatchGANs with the image pools),
each in three configurations side by side in one process:

  fp32_eager        EngineConfig(amp=False, channels_last=False, compile=False)
  bf16_cl           EngineConfig(amp=True,  channels_last=True,  compile=False)
  bf16_cl_compile   EngineConfig(amp=True,  channels_last=True,  compile=True)

The steps run through the training engine itself (`Engine._prepare`, `Engine.to_device`,
`Engine.autocast`, `Engine.step`, losses read back with float() every step as `Engine.fit` does),
so the fast path measured is the one training uses. On CUDA nothing is changed. On CPU, where the
engine never autocasts nor uses channels_last, `_BenchEngine` applies them anyway (bf16 autocast on
"cpu") for information; failures are recorded as strings, never raised.

Warm-up steps (which include compilation) are excluded; every timed step ends with
torch.cuda.synchronize() on GPU. FLOPs of one step are counted once per model with
`torch.utils.flop_counter.FlopCounterMode` (eager; the same for every configuration) and compared
with the device's measured bf16 matmul peak (a timed N x N x N torch.matmul).

Sizes: the profile's on CPU; on CUDA the "paper" sizes when the profile is "default" (DeepLabV3+
ResNet-50 512x1024 batch 8; CycleGAN ngf 64, 9 blocks, 256x512, batch 1 and 4).
"""
import dataclasses
import gc
import math
import os
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from thesislib.engine import Engine, EngineConfig
from thesislib.io import atomic_write_json
from thesislib.profiles import get_profile

CONFIGS = {
    "fp32_eager": {"amp": False, "channels_last": False, "compile": False},
    "bf16_cl": {"amp": True, "channels_last": True, "compile": False},
    "bf16_cl_compile": {"amp": True, "channels_last": True, "compile": True},
}
BASELINE = "fp32_eager"


@dataclass
class Sizes:
    """Everything the benchmark sizes; `sizes_for` derives it from a profile."""
    encoder: str = "resnet18"
    decoder_channels: int = 128
    seg_hw: tuple[int, int] = (64, 128)
    seg_batch: int = 8
    gan_hw: tuple[int, int] = (64, 128)
    gan_ngf: int = 16
    gan_blocks: int = 3
    gan_ndf: int = 32
    gan_batches: tuple[int, ...] = (1,)
    warmup: int = 1              # steps before timing (compilation happens here)
    min_steps: int = 2           # timed steps: at least this many ...
    min_seconds: float = 2.0     # ... and until this much time has passed ...
    max_steps: int = 50          # ... but no more than this many
    peak_n: int = 1024           # N of the N x N x N matmul for the peak
    configs: tuple[str, ...] = field(default_factory=lambda: tuple(CONFIGS))
    skipped: dict[str, str] = field(default_factory=dict)   # config -> why it is not run (recorded)


CPU_COMPILE_SKIP = ("skipped on CPU by default: inductor's C++ build takes minutes on a small shared CPU (and "
                    "the compiled bf16 step ran slower than eager here); pass sizes=Sizes(configs=...) to run it")


def sizes_for(profile_name: str, cuda: bool) -> Sizes:
    if cuda and profile_name == "default":
        profile_name = "paper"
    p = get_profile(profile_name)
    s = Sizes(encoder=p.encoder, decoder_channels=p.decoder_channels, seg_hw=tuple(p.crop_hw or p.image_hw),
              seg_batch=p.batch_size, gan_hw=tuple(p.gan_hw), gan_ngf=p.gan_ngf, gan_blocks=p.gan_blocks,
              gan_ndf=p.gan_ndf, gan_batches=(p.gan_batch_size,),
              configs=("fp32_eager", "bf16_cl"), skipped={"bf16_cl_compile": CPU_COMPILE_SKIP})
    if cuda:
        batches = tuple(dict.fromkeys((p.gan_batch_size, max(4, p.gan_batch_size))))
        s = dataclasses.replace(s, gan_batches=batches, warmup=5, min_steps=10, min_seconds=3.0, max_steps=200,
                                peak_n=8192, configs=tuple(CONFIGS), skipped={})
    return s


class _BenchEngine(Engine):
    """The training engine; on CPU it also autocasts (bf16) and uses channels_last when asked."""

    def autocast(self):
        if self.cuda:
            return super().autocast()
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.cfg.amp else nullcontext()

    def to_device(self, batch):
        out = super().to_device(batch)
        if not self.cuda and self.cfg.channels_last:
            out = {k: v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.ndim == 4 else v
                   for k, v in out.items()}
        return out

    def _prepare(self, method):
        super()._prepare(method)
        if not self.cuda and self.cfg.channels_last:
            for m in self.raw.values():          # in place: the compiled wrappers and optimizers see it
                m.to(memory_format=torch.channels_last)


# ---- the two workloads ---------------------------------------------------------------------------
def _seg_workload(s: Sizes, profile_name: str):
    from thesislib.methods.supervised import Supervised
    # throughput does not depend on the weights' values: random init, so no pretrained file is needed
    profile = dataclasses.replace(get_profile(profile_name), encoder=s.encoder, decoder_channels=s.decoder_channels,
                                  encoder_weights=None)
    h, w = s.seg_hw

    def make_method():
        return Supervised(profile)

    def make_batch(device):
        g = torch.Generator().manual_seed(0)
        return {"image": torch.rand(s.seg_batch, 3, h, w, generator=g).to(device),
                "mask": torch.randint(0, 19, (s.seg_batch, h, w), generator=g).to(device)}

    info = {"model": "DeepLabV3+", "encoder": s.encoder, "decoder_channels": s.decoder_channels, "hw": list(s.seg_hw),
            "batch": s.seg_batch, "images_per_step": s.seg_batch, "optimizer": "AdamW (fused)", "grad_clip": 10.0}
    return info, make_method, make_batch, 10.0, s.seg_batch


def _gan_workload(s: Sizes, batch: int):
    from thesislib.methods.cyclegan import CycleGAN
    h, w = s.gan_hw

    def make_method():
        return CycleGAN(ngf=s.gan_ngf, n_blocks=s.gan_blocks, ndf=s.gan_ndf, batch_size=batch)

    def make_batch(device):
        g = torch.Generator().manual_seed(0)
        return {"image": torch.rand(2 * batch, 3, h, w, generator=g).to(device),
                "domain": torch.tensor([0] * batch + [1] * batch).to(device)}

    info = {"model": "CycleGAN", "ngf": s.gan_ngf, "n_blocks": s.gan_blocks, "ndf": s.gan_ndf, "hw": list(s.gan_hw),
            "batch": batch, "images_per_step": batch,
            "images_per_step_note": "image pairs: each step translates `batch` A and `batch` B images",
            "optimizer": "Adam", "grad_clip": None}
    return info, make_method, make_batch, None, batch


# ---- measurement ---------------------------------------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _graphs() -> int:
    from torch._dynamo.utils import counters
    return int(counters["stats"]["unique_graphs"])


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:400] if str(e).strip() else ''}"


def _free(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def measure_config(workload, config: str, device: torch.device, s: Sizes, count_flops: bool) -> dict:
    """Time one workload in one configuration; a dict with the figures, FLOPs if asked."""
    info, make_method, make_batch, grad_clip, images = workload
    flags = CONFIGS[config]
    if flags["compile"]:
        torch._dynamo.reset()                 # fresh graphs: no recompiles with dynamic shapes
    with tempfile.TemporaryDirectory() as tmp:  # Engine wants an out dir; _prepare writes nothing
        engine = _BenchEngine(tmp, EngineConfig(steps=1, device=device.type, grad_clip=grad_clip, progress=False,
                                                **flags))
        method = make_method()
        engine._prepare(method)
        for m in method.modules.values():
            m.train()
        batch = make_batch(device)

        def step():
            losses = method.training_step(engine.to_device(batch), engine)
            return {k: float(v.detach() if torch.is_tensor(v) else v) for k, v in losses.items()}

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(s.warmup):
            losses = step()
        _sync(device)
        warmup_s = time.perf_counter() - t0
        graphs = _graphs()
        times = []
        start = time.perf_counter()
        while len(times) < s.max_steps and (len(times) < s.min_steps or time.perf_counter() - start < s.min_seconds):
            t = time.perf_counter()
            losses = step()
            _sync(device)
            times.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        out = {"images_per_s": len(times) * images / total, "step_s": total / len(times),
               "step_s_median": statistics.median(times), "step_s_min": min(times), "steps_timed": len(times),
               "warmup_steps": s.warmup, "warmup_s": warmup_s,
               "losses_finite": all(math.isfinite(v) for v in losses.values())}
        if flags["compile"]:
            out["graphs_compiled_while_timed"] = _graphs() - graphs   # recompiles would spoil the timing
        if device.type == "cuda":
            out["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        if count_flops:
            from torch.utils.flop_counter import FlopCounterMode
            with FlopCounterMode(display=False) as counter:
                step()
            _sync(device)
            out["flops_per_step"] = int(counter.get_total_flops())
        del method, engine, batch
    return out


def matmul_peak(device: torch.device, n: int, dtype=torch.bfloat16, min_seconds: float = 1.0) -> float:
    """FLOP/s of a timed n x n x n matmul (3 warm-ups, then repeated for at least `min_seconds`)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(3):
        torch.matmul(a, b)
    _sync(device)
    iters, start = 0, time.perf_counter()
    while True:
        for _ in range(10 if device.type == "cuda" else 1):
            torch.matmul(a, b)
            iters += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return 2 * n**3 * iters / elapsed


def _finish(results: dict, peak: float | None) -> None:
    """Achieved TFLOP/s, fraction of the bf16 peak and speedup vs fp32 eager for every config."""
    for model in results["models"].values():
        flops = model.get("flops_per_step")
        base = model["configs"].get(BASELINE, {})
        for name, r in model["configs"].items():
            if "images_per_s" not in r:
                continue
            if flops:
                r["flops_per_step"] = flops
                r["achieved_tflops"] = flops / r["step_s"] / 1e12
                r["fraction_of_bf16_peak"] = flops / r["step_s"] / peak if peak else None
            r["speedup_vs_fp32_eager"] = (r["images_per_s"] / base["images_per_s"]) if "images_per_s" in base else None


def run(out, profile: str = "default", sizes: Sizes | None = None, device: str | None = None) -> dict:
    """The whole benchmark; writes `out` (JSON) after every configuration, returns the results."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    s = sizes or sizes_for(profile, cuda)
    unknown = sorted(set(s.configs) - set(CONFIGS))
    if unknown:
        raise ValueError(f"unknown bench config(s) {unknown}: choose from {sorted(CONFIGS)}")
    results = {
        "device": _device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cpu_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,   # CPU contention
        "profile": profile,
        "sizes": dataclasses.asdict(s),
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "notes": ("one step = the training method's own training_step through thesislib.engine (fp32_eager: "
                  "amp off, NCHW; bf16_cl: bf16 autocast + channels_last; bf16_cl_compile: + torch.compile of "
                  "each module); inputs resident on the device (data loading excluded); warm-up excluded; "
                  "FLOPs counted once per model (eager) with FlopCounterMode" +
                  ("" if cuda else "; CPU: the training engine itself uses neither bf16 nor channels_last on "
                   "CPU, the bf16 rows here use torch.autocast('cpu') for information")),
        "peak": {},
        "models": {},
        "complete": False,
    }
    configs = list(s.configs)

    def save():
        atomic_write_json(out, results)

    try:
        results["peak"]["bf16_matmul_flops"] = matmul_peak(device, s.peak_n, torch.bfloat16,
                                                          min_seconds=1.0 if cuda else 0.5)
    except Exception as e:  # noqa: BLE001 - record, carry on
        results["peak"]["bf16_matmul_error"] = _error(e)
    try:
        results["peak"]["fp32_matmul_flops"] = matmul_peak(device, s.peak_n, torch.float32,
                                                          min_seconds=1.0 if cuda else 0.5)
    except Exception as e:  # noqa: BLE001
        results["peak"]["fp32_matmul_error"] = _error(e)
    results["peak"]["n"] = s.peak_n
    peak = results["peak"].get("bf16_matmul_flops")
    _free(device)
    save()

    workloads = [("deeplabv3plus", lambda: _seg_workload(s, profile))]
    workloads += [(f"cyclegan_b{b}", (lambda b=b: _gan_workload(s, b))) for b in s.gan_batches]
    for key, make in workloads:
        try:
            workload = make()
        except Exception as e:  # noqa: BLE001
            results["models"][key] = {"error": _error(e), "configs": {}}
            save()
            continue
        entry = results["models"][key] = {**workload[0], "configs": {}}
        for config in configs:
            want_flops = "flops_per_step" not in entry and not CONFIGS[config]["compile"]
            print(f"bench: {key} {config} ...", flush=True)
            try:
                r = measure_config(workload, config, device, s, count_flops=want_flops)
                if "flops_per_step" in r:
                    entry["flops_per_step"] = r.pop("flops_per_step")
            except Exception as e:  # noqa: BLE001 - OOM, unsupported bf16/compile on CPU, ...
                r = {"error": _error(e)}
            _free(device)
            entry["configs"][config] = r
            _finish(results, peak)
            save()
        for config, why in s.skipped.items():
            entry["configs"].setdefault(config, {"skipped": why})
        save()
    _finish(results, peak)
    results["complete"] = True
    save()
    return results


def table(results: dict) -> str:
    peak = results["peak"].get("bf16_matmul_flops")
    lines = [f"{results['device']} · torch {results['torch']} · bf16 matmul peak "
             f"{peak / 1e12:.1f} TFLOP/s" if peak else f"{results['device']} · torch {results['torch']} · no bf16 peak",
             f"{'model':<16} {'config':<16} {'img/s':>9} {'step ms':>9} {'TFLOP/s':>8} {'%peak':>6} {'speedup':>7}"]
    for key, model in results["models"].items():
        if "error" in model:
            lines.append(f"{key:<16} {'-':<16} {model['error']}")
        for name, r in model["configs"].items():
            if "error" in r or "skipped" in r:
                lines.append(f"{key:<16} {name:<16} " + (f"failed: {r['error'][:80]}" if "error" in r else "skipped"))
                continue
            tf, frac, sp = r.get("achieved_tflops"), r.get("fraction_of_bf16_peak"), r.get("speedup_vs_fp32_eager")
            lines.append(f"{key:<16} {name:<16} {r['images_per_s']:>9.2f} {r['step_s'] * 1e3:>9.1f} "
                         f"{tf if tf is not None else float('nan'):>8.2f} "
                         f"{100 * frac if frac is not None else float('nan'):>5.1f}% "
                         f"{sp if sp is not None else float('nan'):>6.2f}x")
    return "\n".join(lines)


def main(out, profile: str = "default", sizes: Sizes | None = None, device: str | None = None) -> int:
    """CLI entry (`thesislib bench`): run, write `out`, print the table; 0 if every model measured fp32 eager."""
    results = run(out, profile, sizes=sizes, device=device)
    print(table(results))
    print(f"-> {out}")
    ok = all("images_per_s" in m["configs"].get(BASELINE, {}) for m in results["models"].values())
    return 0 if ok and results["models"] else 1
