"""How much the evaluation protocol moves the numbers: the same cached models scored on target val the old
way (labels shrunk to the working resolution with nearest resampling) and the package's way (logits
upsampled to the labels' own resolution). Needs the stage cache of a finished `make reproduce`.

    python scripts/protocol_effect.py [PROFILE]        # one line per model: mIoU and pixel accuracy, both ways
"""
import sys

import torch

from thesislib.methods.common import target_set
from thesislib.runs.lab import Lab
from thesislib.runs.scoring import evaluate
from thesislib.runs.stages import S


def main(profile: str = "default") -> None:
    lab = Lab(profile, compute=False)
    shrunk, native = target_set(lab.data(), lab.profile, "val"), lab.eval_dataset("val")
    cpu = torch.device("cpu")
    print(f"{'model':<28} {'mIoU shrunk':>12} {'mIoU native':>12} {'pixel acc. shrunk':>18} {'native':>8}")
    for name, kind in (("source only", "source_only"), ("translated source", "translated"),
                       ("self-training", "self_training"), ("oracle", "oracle")):
        for seed in lab.profile.seeds:
            model = lab.load_model(S(kind, seed=seed), device=cpu)
            old, new = evaluate(model, shrunk, cpu), evaluate(model, native, cpu)
            print(f"{name + f' · seed {seed}':<28} {old['miou']:>12.2f} {new['miou']:>12.2f} "
                  f"{old['pixel_accuracy']:>18.2f} {new['pixel_accuracy']:>8.2f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
