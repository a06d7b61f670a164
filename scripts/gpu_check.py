"""The device check (docs/gpu.md): what the GPU path does on one GPU, each step capped, its files written as it goes.

    python scripts/gpu_check.py OUT [--size paper|tiny] [--budget SECONDS]      (scripts/gpu_check.sh runs it)

Steps, in order (each a subprocess under its own cap, so a step that hangs or runs out keeps what it wrote):
1. steps:  DeepLabV3+ R50 512x1024 batch 8 and CycleGAN (9 blocks, 256x512) at the paper profile's batch, one
           training step each in fp32 and bf16 + channels_last (thesislib.tools.bench); then
   compile: the same in bf16 + channels_last + torch.compile (CUDA only: skipped on a CPU);
2. loader: images/s of the real training loader (the paper profile's workers, batch and transforms) on a small
           world at the real sizes, from its working copy at 512x1024, against step 1's bf16 step rate: the share
           of a training step the GPU can be kept busy (loader rate / step rate, at most 1);
3. side:   the `gpu` profile's step (ResNet-18 64x128 batch 8) in 1 and `stages_per_gpu` processes at once on the
           one GPU: their summed images/s (the gain of stages side by side);
4. kinds:  the `gpu` profile's DeepLabV3+ and CycleGAN steps (every stage kind trains one of the two), fp32 and bf16;
   kinds_compile: the same in bf16 + channels_last + torch.compile (CUDA only): whether compiling pays for the
           small, launch-bound steps (the `gpu` profile sets `compile` only where this says so);
5. time:   scripts/paper_time.py for paper and gpu from the rates measured (rates.json).
OUT receives at most 5 files: log.txt (every step's output), figures.json (after every step), rates.json,
check.png (one panel per step, redrawn after every step) and paper_time.txt. Without CUDA the same steps run on the
CPU (figures for the test; --size tiny: the smoke profile's sizes and world, seconds a step).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = [sys.executable] + (["-S"] if sys.flags.no_site else [])      # a bare interpreter stays bare
STEPS = ("steps", "compile", "loader", "side", "kinds", "kinds_compile", "time")
CAPS = {"steps": 0.11, "compile": 0.24, "loader": 0.14, "side": 0.14, "kinds": 0.10, "kinds_compile": 0.12,
        "time": 0.05}                                                                 # budget shares
COMPILED = {"steps": "compile", "kinds": "kinds_compile"}     # each bench step and its compiled twin
SIZES = {"paper": {"model": "paper", "small": "gpu", "world": "paper-check", "seconds": 3.0, "warmup": 3, "side": 8.0,
                   "n": None},
         "tiny": {"model": "smoke", "small": "smoke", "world": "smoke", "seconds": 0.2, "warmup": 1, "side": 1.0, "n": 2}}
MIN_CAP = 30.0                   # seconds: a step's cap is its share of the budget, never less


def write_json(path: Path, doc: dict) -> None:
    """Atomically (a killed check never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, path)


def device():
    """CUDA, or the CPU on one thread (as the stages train there: threads spinning on a shared CPU cost 10x)."""
    import torch
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(1)
    return torch.device("cpu")


def bench_sizes(profile: str, size: dict, configs=("fp32_eager", "bf16_cl")):
    """thesislib.tools.bench sizes of `profile`'s models at its own batches, in `configs`."""
    import dataclasses

    from thesislib.tools import bench
    s = bench.sizes_for(profile, cuda=False)
    return dataclasses.replace(s, configs=tuple(configs), skipped={}, warmup=size["warmup"], min_steps=size["warmup"],
                               min_seconds=size["seconds"], max_steps=100, peak_n=4096 if device().type == "cuda" else 256)


def step_bench(work: Path, profile: str, size: dict, configs=("fp32_eager", "bf16_cl")) -> dict:
    """One training step of `profile`'s DeepLabV3+ and CycleGAN in `configs` (torch.compile: on CUDA only, where
    inductor's build takes seconds, not the minutes of a small CPU)."""
    from thesislib.tools import bench
    if device().type != "cuda" and any(bench.CONFIGS[c]["compile"] for c in configs):
        return {"skipped": "torch.compile is measured on CUDA only"}
    out = work / f"bench-{profile}-{'-'.join(configs)}.json"
    bench.run(out, profile, bench_sizes(profile, size, configs))
    return json.loads(out.read_text())


def rate(bench_doc: dict, model: str, config: str) -> float | None:
    """images (pairs) per second of a model's config in a bench result (the first CycleGAN batch for "gan")."""
    for key, m in bench_doc.get("models", {}).items():
        if key == model or (model == "gan" and key.startswith("cyclegan")):
            return m.get("configs", {}).get(config, {}).get("images_per_s")
    return None


def step_loader(work: Path, size: dict) -> dict:
    """The real training loader on a small world at the real sizes (its working copy at the profile's image_hw)."""
    from thesislib.data.check import ensure_checked
    from thesislib.data.stream import step_loader as loader_of
    from thesislib.data.working import working_copy
    from thesislib.methods.common import source_set
    from thesislib.profiles import get_profile, loader_workers
    from thesislib.tools.world import write_world
    p = get_profile(size["model"])
    t0 = time.time()
    root = work / "world"
    write_world(root, size["world"], progress=False)
    ensure_checked(root)
    root = working_copy(root, p.image_hw, work / "working")
    prepared = time.time() - t0
    workers = loader_workers(p)
    batches = iter(loader_of([source_set(root / "gta5", p)], [p.batch_size], 0, 10**6, num_workers=workers)(0))
    next(batches)                                        # workers started, first batch decoded
    n, start = 0, time.time()
    while time.time() - start < 4 * size["seconds"]:
        n += len(next(batches)["image"])
    return {"images_per_s": n / (time.time() - start), "workers": workers, "batch": p.batch_size,
            "image_hw": list(p.image_hw), "world_and_copy_s": round(prepared, 1)}


def _side_worker(rank: int, profile: str, size: dict, barrier, results) -> None:
    """A stage's training steps: once every process is warm (barrier), rank 0 alone, then all of them at once."""
    from thesislib.engine import EngineConfig
    from thesislib.tools import bench
    info, make_method, make_batch, grad_clip, images = bench._seg_workload(bench_sizes(profile, size), profile)
    d = device()
    engine = bench._BenchEngine(Path("/tmp"), EngineConfig(steps=1, device=d.type, grad_clip=grad_clip,
                                                           progress=False, **bench.CONFIGS["bf16_cl"]))
    method = make_method()
    engine._prepare(method)
    batch = make_batch(d)

    def step():
        return [float(v.detach()) for v in method.training_step(engine.to_device(batch), engine).values()]

    def timed() -> float:
        n, start = 0, time.time()
        while time.time() - start < size["side"]:
            step()
            n += images
        return n / (time.time() - start)
    for _ in range(size["warmup"]):
        step()
    barrier.wait(timeout=300)
    if rank == 0:
        results.put(("alone", timed()))
    barrier.wait(timeout=300)
    results.put(("together", timed()))


def step_side(work: Path, size: dict) -> dict:
    """The gpu profile's step in one process alone, then in `stages_per_gpu` processes at once (one start-up)."""
    import multiprocessing as mp

    from thesislib.profiles import get_profile
    ctx = mp.get_context("spawn")
    n = size["n"] or get_profile(size["small"]).stages_per_gpu
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_side_worker, args=(rank, size["small"], size, barrier, results)) for rank in range(n)]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=600) for _ in range(n + 1)]
    for proc in procs:
        proc.join()
    alone = [r for kind, r in got if kind == "alone"]
    together = [r for kind, r in got if kind == "together"]
    return {"1": {"images_per_s_total": alone[0], "each": alone},
            str(n): {"images_per_s_total": sum(together), "each": together},
            "side_by_side": sum(together) / alone[0]}


def step_time(work: Path, out: Path) -> dict:
    """scripts/paper_time.py for every profile rates.json has rates of (a step that failed leaves its profile out)."""
    measured = [p for p in ("paper", "gpu") if p in json.loads((out / "rates.json").read_text())]
    if not measured:
        raise RuntimeError("rates.json holds no rates: steps 1 and 4 measured nothing")
    text = subprocess.run([*PYTHON, str(REPO / "scripts" / "paper_time.py"), *measured, "--rates",
                           str(out / "rates.json")], cwd=REPO, stdout=subprocess.PIPE, text=True, check=True).stdout
    (out / "paper_time.txt").write_text(text)
    return {"lines": [line for line in text.splitlines() if line.startswith(("total", "profile", "rates"))]}


def run_step(name: str, out: Path, size_name: str) -> None:
    """One step, in this process: its result to work/<name>.json."""
    work = Path(os.environ["GPU_CHECK_WORK"])
    device()
    size = SIZES[size_name]
    result = {"steps": lambda: step_bench(work, size["model"], size),
              "compile": lambda: step_bench(work, size["model"], size, ("bf16_cl_compile",)),
              "loader": lambda: step_loader(work, size),
              "side": lambda: step_side(work, size), "kinds": lambda: step_bench(work, size["small"], size),
              "kinds_compile": lambda: step_bench(work, size["small"], size, ("bf16_cl_compile",)),
              "time": lambda: step_time(work, out)}[name]()
    write_json(work / f"{name}.json", result)


def rates_of(figures: dict, size: dict) -> dict:
    """rates.json for paper_time: each profile's DeepLabV3+ and CycleGAN rates at the config its profile runs."""
    from thesislib.profiles import get_profile
    doc = {"device": figures.get("device"), "source": "scripts/gpu_check.py"}
    for profile, step in (("paper", "steps"), ("gpu", "kinds")):
        compiled = get_profile(size["model" if profile == "paper" else "small"]).compile
        config = "bf16_cl_compile" if compiled else "bf16_cl"
        found = figures.get(COMPILED[step] if compiled else step, {})
        seg, gan = rate(found, "deeplabv3plus", config), rate(found, "gan", config)
        if seg and gan:
            doc[profile] = {"seg": seg, "gan": gan}
    if "gpu" in doc and "side_by_side" in figures.get("side", {}):
        doc["gpu"]["side_by_side"] = figures["side"]["side_by_side"]
    return doc


def draw(figures: dict, path: Path) -> None:
    """check.png: one panel per measuring step (what is there so far)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, step, title in zip(axes.flat, ("steps", "loader", "side", "kinds"),
                               ("paper models: one training step", "paper loader vs bf16 step",
                                "gpu profile: stages side by side", "gpu profile models")):
        ax.set_title(title, fontsize=10)
        found = figures.get(step)
        if not isinstance(found, dict) or "error" in found:
            ax.text(0.5, 0.5, (found or {}).get("error", "not measured")[:60], ha="center", transform=ax.transAxes)
            continue
        if step in ("steps", "kinds"):
            runs = [found, figures.get(COMPILED[step], {})]
            bars = [(f"{k}\n{c}", r.get("images_per_s") or 0) for run in runs for k, m in run.get("models", {}).items()
                    for c, r in m.get("configs", {}).items()]
            ax.bar(range(len(bars)), [v for _, v in bars])
            ax.set_xticks(range(len(bars)), [b for b, _ in bars], fontsize=6)
            ax.set_ylabel("images (pairs) / s")
        elif step == "loader":
            step_rate = rate(figures.get("steps", {}), "deeplabv3plus", "bf16_cl") or 0
            ax.bar([0, 1], [found["images_per_s"], step_rate])
            ax.set_xticks([0, 1], [f"loader ({found['workers']} workers)", "bf16 step"])
            ax.set_ylabel("images / s")
        else:
            counts = [k for k in found if k.isdigit()]
            ax.bar(range(len(counts)), [found[k]["images_per_s_total"] for k in counts])
            ax.set_xticks(range(len(counts)), [f"{k} stage(s)" for k in counts])
            ax.set_ylabel("images / s, all stages")
    fig.suptitle(f"{figures.get('device')} · torch {figures.get('torch')}", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(".check.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def capped(cmd: list[str], cap: float, log, env: dict):
    """Run `cmd` for at most `cap` seconds, its output to `log`; on time-out its whole process group is killed
    (the step's own workers too); the return code, or "timeout"."""
    import signal
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=log, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=cap)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout"


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("out")
    a.add_argument("--size", default="paper", choices=tuple(SIZES))
    a.add_argument("--budget", type=float, default=440.0, help="seconds for all steps together")
    a.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)        # one step, in a subprocess
    args = a.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.step:
        run_step(args.step, out, args.size)
        return 0
    import torch
    start, size = time.time(), SIZES[args.size]
    work = Path(os.environ.get("GPU_CHECK_WORK") or "/tmp/gpu-check-work")     # never under OUT: 5 files come back
    work.mkdir(parents=True, exist_ok=True)
    figures = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (no CUDA)",
               "torch": torch.__version__, "size": args.size, "budget_s": args.budget, "seconds": {}}
    log = open(out / "log.txt", "a", buffering=1)
    for name in STEPS:
        cap = max(MIN_CAP, min(CAPS[name] * args.budget, args.budget - (time.time() - start)))
        t0 = time.time()
        print(f"gpu_check: step {name} (cap {cap:.0f} s)", file=log, flush=True)
        rc = capped([*PYTHON, __file__, str(out), "--size", args.size, "--step", name], cap, log,
                    {**os.environ, "GPU_CHECK_WORK": str(work), "PYTHONUNBUFFERED": "1"})
        done = work / f"{name}.json"
        figures[name] = json.loads(done.read_text()) if rc == 0 and done.exists() else {"error": f"rc {rc}"}
        figures["seconds"][name] = round(time.time() - t0, 1)
        step_rate = rate(figures.get("steps", {}), "deeplabv3plus", "bf16_cl")
        if name == "loader" and step_rate and "images_per_s" in figures[name]:     # the share the GPU is kept busy
            figures[name]["gpu_busy_share"] = min(1.0, figures[name]["images_per_s"] / step_rate)
        if name == "side":                                   # before step 5, which reads them
            write_json(out / "rates.json", rates_of(figures, size))
        write_json(out / "figures.json", figures)
        draw(figures, out / "check.png")
        print(f"gpu_check: step {name}: {'ok' if rc == 0 else rc} in {figures['seconds'][name]} s", file=log, flush=True)
        if name in ("kinds", "kinds_compile"):
            write_json(out / "rates.json", rates_of(figures, size))
    print(f"gpu_check: done in {time.time() - start:.0f} s; files in {out}", file=log, flush=True)
    print((out / "paper_time.txt").read_text() if (out / "paper_time.txt").exists() else "no estimates")
    return 0 if all("error" not in figures[n] for n in STEPS) else 1


if __name__ == "__main__":
    sys.exit(main())
