"""Estimated wall time of a profile's stage graph, stage by stage, from measured throughput.

    python scripts/paper_time.py [PROFILE ...] [--rates RATES_JSON]      (default: paper and gpu)

Each stage's GPU time is its images through a model divided by the rate of what the profile runs (thesislib.runs.estimate:
bf16 + channels_last, compiled only where the profile sets `compile`, CycleGAN at the profile's batch; the H100 figures
of an earlier session, or RATES_JSON as scripts/gpu_check.py writes it from a device), inference at 3x the training
rate. What the GPU waits for is listed beside. The stages are then scheduled greedily (longest remaining chain first,
as the runner orders them) on the GPUs of one node, `stages_per_gpu` at a time on each (their shared rate:
`side_by_side` of the rates); the critical path bounds any number of GPUs.

For a profile smaller than the paper's, the R50 rates are an upper bound on its time; a lower bound follows from the
FLOPs of its models' training step (torch's FlopCounterMode) at the FLOP rate the paper models achieved: what the GPU
would need if the small steps kept it as busy as the large ones (they do not: a 64x128 batch of 8 is launch-bound).
The truth lies between the two until scripts/gpu_check.py measures the profile's own rates.
"""
import argparse
from collections import Counter

import torch
from torch.utils.flop_counter import FlopCounterMode

from thesislib.runs import estimate, plan, runner
from thesislib.runs.lab import Lab

WAITS = {"cyclegan": "translation writes a PNG per source image (writer threads, beside the GPU)",
         "predictions": "pass 1 writes a prediction and a confidence PNG per pool image (writer threads)",
         "self_training": "pass 2 of pseudo-labelling (CPU threads, between the rounds; ~30 s for 23k images on 16 "
                          "cores) and the student loader (9-12 cores for a student batch)",
         "score": "full-resolution labels decoded (~64 ms per val item on one core) and upsampled logits",
         "joint": "two streams to decode per step (8 loader cores)"}
REAL = {"n_source": 24_966, "n_train": 2_975, "n_val": 500, "n_extra": 19_998}      # GTA5 and Cityscapes
GPUS = {"paper": (1, 4, 8), "gpu": (1,)}


def step_flops(p) -> dict:
    """FLOPs of one training step's forward and backward per image (DeepLabV3+) and per pair (CycleGAN's two
    generators and two discriminators) of profile `p`, counted at 64x128 and scaled by the pixels (convolutions)."""
    from thesislib.models.cyclegan import define_D, define_G
    from thesislib.models.segmentation import build_segmenter

    def count(modules, x) -> float:                  # on the meta device: shapes only, nothing computed
        with FlopCounterMode(display=False) as c:
            sum(m.to("meta")(x).float().mean() for m in modules).backward()
        return c.get_total_flops()
    x, scale = torch.randn(1, 3, 64, 128, device="meta"), lambda hw: hw[0] * hw[1] / (64 * 128)
    seg = count([build_segmenter(p.encoder, decoder_channels=p.decoder_channels).train()], x)
    gan = 2 * count([define_G(ngf=p.gan_ngf, n_blocks=p.gan_blocks, upsample=p.gan_upsample),
                     define_D(ndf=p.gan_ndf)], x)
    return {"seg": seg * scale(p.crop_hw or p.image_hw), "gan": gan * scale(p.gan_hw)}


def compute_bound(p, rate: dict) -> dict:
    """`rate` (the paper models') scaled by the paper's over `p`'s FLOPs per step: `p`'s rates at the same FLOP rate."""
    from thesislib.profiles import get_profile
    big, small = step_flops(get_profile("paper")), step_flops(p)
    return {**rate, "seg": rate["seg"] * big["seg"] / small["seg"], "gan": rate["gan"] * big["gan"] / small["gan"],
            "source": f"{rate['source']}, scaled by FLOPs per step (x{big['seg'] / small['seg']:.0f} DeepLabV3+, "
                      f"x{big['gan'] / small['gan']:.0f} CycleGAN): a lower bound on the time"}


def schedule(nodes, needs, time, slots: int) -> float:
    """Greedy list scheduling of the graph on `slots` places (GPUs x stages per GPU), longest remaining chain first
    (as the runner orders stages); the finish time of the last stage."""
    chain = runner.longest_chains(nodes, needs, set(nodes), time)
    done_at, free, todo = {}, [0.0] * slots, set(nodes)
    while todo:
        ready = [k for k in todo if all(d in done_at for d in needs[k])]
        k = max(ready, key=chain.get)
        slot = min(range(slots), key=lambda g: free[g])
        start = max([free[slot]] + [done_at[d] for d in needs[k]])
        done_at[k] = free[slot] = start + time[k]
        todo.discard(k)
    return max(done_at.values())


def main(profile: str = "paper", rates_json: str | None = None) -> dict:
    real = REAL if profile == "paper" else {}
    lab = Lab(profile, data_root="/the-real-data" if real else None, build_dir="/tmp/paper-time", overrides=real,
              device="cuda")
    lab._data_id = {"estimate": profile}                   # no data needed to count stages
    p = lab.profile
    nodes, needs = runner.graph(lab, plan.thesis(p))
    rate = estimate.rates(rates_json, profile)
    time = {k: estimate.stage_seconds(s, p, rate) for k, s in nodes.items()}
    per, share = max(1, p.stages_per_gpu), rate["side_by_side"]
    shared = {k: t * per / share for k, t in time.items()}     # each of `per` stages on a GPU at 1/per of its rate
    per_kind, count = Counter(), Counter()
    for k, s in nodes.items():
        per_kind[s.kind] += time[k]
        count[s.kind] += 1
    print(f"profile {profile}: {len(nodes)} stages; runs DeepLabV3+ {p.encoder} {'x'.join(map(str, p.crop_hw or p.image_hw))} "
          f"batch {p.batch_size} bf16, CycleGAN {p.gan_hw[0]}x{p.gan_hw[1]} batch {p.gan_batch_size}, compile "
          f"{'on' if p.compile else 'off'}, {per} stage(s) per GPU")
    print(f"rates: DeepLabV3+ {rate['seg']:.1f} img/s, CycleGAN {rate['gan']:.1f} pairs/s, side by side "
          f"x{share:.2f}; from {rate['source']}")
    print(f"{'kind':<15}{'stages':>7}{'GPU hours':>11}  what the GPU waits for")
    for kind, t in per_kind.most_common():
        print(f"{kind:<15}{count[kind]:>7}{t / 3600:>11.2f}  {WAITS.get(kind, '')}")
    walls = {n: schedule(nodes, needs, shared, n * per) / 3600 for n in GPUS.get(profile, (1, 4, 8))}
    print(f"total {sum(time.values()) / 3600:.2f} GPU hours; wall on "
          + " / ".join(f"{n} GPU{'s' if n > 1 else ''}: {w:.2f} h" for n, w in walls.items()))
    if profile != "paper" and not rates_json:
        low = compute_bound(p, rate)
        fast = {k: estimate.stage_seconds(s, p, low) for k, s in nodes.items()}
        fast_shared = {k: t * per / share for k, t in fast.items()}
        walls_low = {n: schedule(nodes, needs, fast_shared, n * per) / 60 for n in GPUS.get(profile, (1, 4, 8))}
        print(f"lower bound: {sum(fast.values()) / 60:.1f} GPU minutes; wall on "
              + " / ".join(f"{n} GPU{'s' if n > 1 else ''}: {w:.1f} min" for n, w in walls_low.items())
              + f"\n  ({low['source']})")
    print()
    return {"gpu_hours": sum(time.values()) / 3600, "wall_hours": walls, "rate": rate}


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("profiles", nargs="*", default=["paper", "gpu"])
    args.add_argument("--rates", default=None, help="a rates JSON of scripts/gpu_check.py")
    a = args.parse_args()
    for name in a.profiles:
        main(name, a.rates)
