"""Estimated wall time of a profile's stage graph on 1, 4 and 8 GPUs, stage by stage, from measured throughput.

    python scripts/paper_time.py [PROFILE] [BENCH_JSON]

Each stage's GPU time is its images through a model (the stage kinds' `cost`, thesislib.runs.stages) divided by a
throughput: training steps at the benchmark's bf16 (+ compile where the profile compiles) rate of the profile's
model (`thesislib bench` on the GPU: BENCH_JSON when it holds a CUDA run, else the H100 figures below, measured in
an earlier session), inference (pseudo-labels, translation, scoring) at 3x the training rate (a forward only).
What the GPU waits for is listed beside: host-side work of each kind (pass 2 of pseudo-labelling, PNG writes,
the loaders' share). The stages are then scheduled greedily (longest remaining chain first) on N GPUs, one
stage a GPU, as `thesislib reproduce --executor slurm` would run them; the critical path bounds any N.
"""
import json
import sys
from collections import Counter
from pathlib import Path

from thesislib.runs import plan, runner
from thesislib.runs.lab import Lab
from thesislib.runs.stages import KINDS

# H100, torch 2.11, an earlier session's `thesislib bench` (docs/budget.md): images (pairs for CycleGAN) per second
H100 = {"seg": {"bf16": 150.5, "compile": 150.6}, "gan": {"bf16": 23.3, "compile": 34.0}}
INFERENCE_SPEEDUP = 3.0          # a forward pass against forward + backward + optimizer step
WAITS = {"cyclegan": "translation writes 24,966 PNGs (writer threads, beside the GPU)",
         "predictions": "pass 1 writes a prediction and a confidence PNG per pool image (writer threads)",
         "self_training": "pass 2 of pseudo-labelling (CPU threads, between the rounds; ~30 s for 23k images on 16 "
                          "cores) and the student loader (9-12 cores for a student batch)",
         "score": "full-resolution labels decoded (~64 ms per val item on one core) and upsampled logits",
         "joint": "two streams to decode per step (8 loader cores)"}


def throughput(bench: dict | None) -> dict:
    """{"seg": img/s, "gan": pairs/s} of the profile's fast path, from a CUDA bench when given."""
    if not bench or bench.get("device_type") != "cuda":
        return {"seg": H100["seg"]["compile"], "gan": H100["gan"]["compile"], "source": "docs/budget.md H100 figures"}
    rate = {}
    for m in bench["models"]:
        key = "gan" if m["model"] == "CycleGAN" else "seg"
        best = max((c.get("images_per_s") or 0) for c in m["configs"].values())
        rate[key] = max(rate.get(key, 0), best)
    return {**rate, "source": "this bench"}


def seconds(stage, profile, rate) -> float:
    cost = KINDS[stage.kind].cost(stage, profile)
    if stage.kind == "cyclegan":
        return cost / 4.6 / rate["gan"] + profile.n_source / (INFERENCE_SPEEDUP * rate["seg"])
    if stage.kind in ("score", "predictions"):
        return cost / 0.3 / (INFERENCE_SPEEDUP * rate["seg"]) if stage.kind == "score" else \
            cost / 0.5 * 2 / (INFERENCE_SPEEDUP * rate["seg"])
    return cost / rate["seg"]


def schedule(nodes, needs, time, gpus: int) -> float:
    """Greedy list scheduling of the graph on `gpus` GPUs, longest remaining chain first (as the runner
    orders stages); the finish time of the last stage."""
    chain = runner.longest_chains(nodes, needs, set(nodes), time)
    done_at, free, todo = {}, [0.0] * gpus, set(nodes)
    while todo:
        ready = [k for k in todo if all(d in done_at for d in needs[k])]
        k = max(ready, key=chain.get)
        gpu = min(range(gpus), key=lambda g: free[g])
        start = max([free[gpu]] + [done_at[d] for d in needs[k]])
        done_at[k] = free[gpu] = start + time[k]
        todo.discard(k)
    return max(done_at.values())


def main(profile: str = "paper", bench_json: str | None = None) -> dict:
    bench = json.loads(Path(bench_json).read_text()) if bench_json and Path(bench_json).exists() else None
    real = {"n_source": 24_966, "n_train": 2_975, "n_val": 500, "n_extra": 19_998} if profile == "paper" else {}
    lab = Lab(profile, data_root="/the-real-data" if real else None, build_dir="/tmp/paper-time", overrides=real)
    lab._data_id = {"estimate": profile}                   # no data needed to count stages
    nodes, needs = runner.graph(lab, plan.thesis(lab.profile))
    rate = throughput(bench)
    time = {k: seconds(s, lab.profile, rate) for k, s in nodes.items()}
    per_kind, count = Counter(), Counter()
    for k, s in nodes.items():
        per_kind[s.kind] += time[k]
        count[s.kind] += 1
    print(f"profile {profile}: {len(nodes)} stages, throughput {rate}")
    print(f"{'kind':<15}{'stages':>7}{'GPU hours':>11}  what the GPU waits for")
    for kind, t in per_kind.most_common():
        print(f"{kind:<15}{count[kind]:>7}{t / 3600:>11.2f}  {WAITS.get(kind, '')}")
    walls = {n: schedule(nodes, needs, time, n) / 3600 for n in (1, 4, 8)}
    print(f"total {sum(time.values()) / 3600:.1f} GPU hours; wall on 1 / 4 / 8 GPUs: "
          + " / ".join(f"{w:.1f} h" for w in walls.values()))
    return {"gpu_hours": sum(time.values()) / 3600, "wall_hours": walls, "throughput": rate}


if __name__ == "__main__":
    main(*sys.argv[1:3])
