"""The prepared GPU check (issue: the GPU path): every figure in one JSON, each step under a time limit.

    python scripts/gpu_check.py OUT.json [--budget SECONDS]

1. `thesislib bench` (fp32 / bf16 + channels_last / + torch.compile, DeepLabV3+ R50 512x1024 and CycleGAN);
2. one paper-profile training (source only, DeepLabV3+ R50 from the ImageNet stand-in, 512x1024, batch 8,
   loader workers from the cores) of a few hundred steps on real-size generated images, the GPU's
   utilisation sampled every 200 ms with nvidia-smi: busy share of the steady state (goal: >= 90 %);
3. `make paper-check` (all seven notebooks at the paper-check profile);
4. the `gpu` profile's stages for one seed (several side by side on the GPU), timed.
A step that fails or outlives its share of the budget is recorded as such; the JSON is written after every
step, so a killed check still leaves what it measured.
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "gpu-check"


def sample_utilisation(samples: list, stop: threading.Event) -> None:
    """nvidia-smi's GPU utilisation (%) every 200 ms into `samples` until `stop`."""
    proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if stop.is_set():
                break
            if line.strip().isdigit():
                samples.append((time.time(), int(line.strip())))
    finally:
        proc.terminate()


def run(cmd: list[str], timeout: float, log: Path) -> dict:
    t0 = time.time()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return {"rc": rc, "seconds": round(time.time() - t0, 1), "log": str(log)}


def paper_training(steps: int, timeout: float) -> dict:
    """A paper-profile source-only training on the paper-check world, the GPU sampled while it runs."""
    sys.path.insert(0, str(REPO / "scripts"))
    from paper_check import stand_in_weights
    stand_in_weights()
    world = BUILD / "world"
    code = ("import sys, json, time; from thesislib.tools.world import write_world; "
            "from thesislib.data.check import ensure_checked; from thesislib.profiles import get_profile, loader_workers; "
            "from thesislib.methods.supervised import train_supervised; "
            f"w = {str(world)!r}; write_world(w, 'paper-check', progress=False); ensure_checked(w); "
            f"p = get_profile('paper', steps={steps}, ckpt_every={steps}, n_source=6); t = time.time(); "
            f"m = train_supervised(w, {str(BUILD / 'paper-train')!r}, p, 0, source='gta5', progress=False); "
            "print(json.dumps({'train_seconds': m['train_seconds'], 'workers': loader_workers(p)}))")
    samples, stop = [], threading.Event()
    sampler = threading.Thread(target=sample_utilisation, args=(samples, stop), daemon=True)
    sampler.start()
    t0 = time.time()
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=timeout)
        out = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"error": done.stderr[-2000:]}
    except subprocess.TimeoutExpired:
        out = {"error": "timeout"}
    stop.set()
    wall = time.time() - t0
    steady = [u for t, u in samples if t - t0 > 0.3 * wall]          # after start-up, world and first batches
    out.update({"steps": steps, "wall_seconds": round(wall, 1), "utilisation_samples": len(samples),
                "busy_percent_steady": round(sum(steady) / len(steady), 1) if steady else None,
                "busy_percent_all": round(sum(u for _, u in samples) / len(samples), 1) if samples else None})
    if "train_seconds" in out:
        out["steps_per_second"] = round(steps / out["train_seconds"], 2)
    return out


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else BUILD / "gpu_check.json")
    budget = float(sys.argv[sys.argv.index("--budget") + 1]) if "--budget" in sys.argv else 470.0
    BUILD.mkdir(parents=True, exist_ok=True)
    start, figures = time.time(), {"budget_seconds": budget}

    def save():
        figures["elapsed_seconds"] = round(time.time() - start, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=1))

    import torch
    figures["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
    figures["torch"] = torch.__version__
    py = sys.executable
    figures["bench"] = run([py, "-m", "thesislib", "bench", "--out", str(BUILD / "bench.json")], 0.3 * budget,
                           BUILD / "bench.log")
    if (BUILD / "bench.json").exists():
        figures["bench"]["results"] = json.loads((BUILD / "bench.json").read_text()).get("models")
    save()
    figures["paper_training"] = paper_training(300, 0.25 * budget)
    save()
    figures["paper_check"] = run([py, "scripts/paper_check.py"], 0.25 * budget, BUILD / "paper_check.log")
    save()
    left = budget - (time.time() - start)
    stages = ("from thesislib.runs.lab import Lab; from thesislib import plan; import time; "
              "lab = Lab('gpu', build_dir='build/gpu-check', overrides={'seeds': (0,)}); t = time.time(); "
              "n = lab.compute(plan.thesis(lab.profile)); print(n, 'stages', round(time.time() - t, 1), 's')")
    figures["gpu_profile_one_seed"] = run([py, "-c", stages], max(30.0, left - 10), BUILD / "gpu_profile.log")
    save()
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
