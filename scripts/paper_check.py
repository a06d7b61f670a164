"""`make paper-check`: all seven notebooks at the `paper-check` profile (the paper profile with a handful
of steps and a batch of 2) on a small embedded world at the real image sizes (source 1914x1052,
Cityscapes 2048x1024 with train, val and train_extra), on whatever device there is.

Everything lives under build/paper-check/ (world, stage cache, executed notebooks, tables, figures).
No ImageNet weights can be downloaded on an offline machine: when the torch cache lacks the ResNet-50
file, a stand-in with the real file name and keys (a random init, NOT ImageNet weights) is written into
a private cache, build/paper-check/torch, so the loading path runs as it would with the real file.
"""
import os
import sys
import time
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1] / "build" / "paper-check"


def stand_in_weights() -> None:
    import torch
    import torchvision

    from thesislib.models.segmentation import imagenet_weights_file
    if imagenet_weights_file("resnet50")[1].is_file():
        return
    os.environ["TORCH_HOME"] = str(BUILD / "torch")
    path = imagenet_weights_file("resnet50")[1]
    if not path.is_file():
        print(f"paper-check: no ImageNet ResNet-50 in the torch cache; writing a random-init stand-in to {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.resnet50().state_dict(), path)


def main() -> int:
    from thesislib.runs.pipeline import elapsed, reproduce
    stand_in_weights()
    start = time.time()
    code = reproduce("paper-check", build_dir=BUILD)
    print(f"paper-check: {'passed' if code == 0 else 'FAILED'} in {elapsed(time.time() - start)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
