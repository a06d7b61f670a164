"""A torchrun worker for the DDP tests: train one method a few steps at the smoke profile on a given world;
every rank saves its final weights (python -m torch.distributed.run ... tests/ddp_worker.py METHOD WORLD OUT)."""
import sys

import torch

from thesislib import engine
from thesislib.profiles import get_profile

_save = engine.Engine._save


def save_every_rank(self, method, step, elapsed):
    """The engine's checkpoint (rank 0), and each rank's weights at the end (what the test compares)."""
    _save(self, method, step, elapsed)
    if step == self.cfg.steps:
        torch.save({k: m.state_dict() for k, m in self.raw.items()}, self.out / f"rank{self.rank}.pt")


def main(method: str, world: str, out: str) -> None:
    engine.Engine._save = save_every_rank
    profile = get_profile("smoke", gan_steps=4, adapt_steps=4, ckpt_every=2)
    if method == "cyclegan":
        from thesislib.methods.cyclegan import train_cyclegan
        train_cyclegan(world, out, profile, seed=0, translate=False, progress=False)
    else:
        from thesislib.methods.adversarial import train_adversarial
        train_adversarial(world, out, profile, seed=0, level=method, split_batch=True, progress=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
