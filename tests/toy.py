"""A tiny method and dataset for engine tests (no world, no smp): a 2-class conv net on noise images."""
import sys

import torch
from torch import nn
from torch.utils.data import Dataset

from thesislib.data.stream import step_loader
from thesislib.engine import Engine, EngineConfig, Method
from thesislib.runs.lab import Lab


class NoiseSet(Dataset):
    def __init__(self, n=12):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 3, 8, 8, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i] + 0.05 * torch.randn(3, 8, 8)          # random "augmentation" from the seeded RNG
        return {"image": x, "mask": (x[0] > 0.5).long(), "name": str(i)}


class Toy(Method):
    def __init__(self, nan_at=None):
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.2),
                            nn.Conv2d(8, 2, 1))
        self.modules = {"net": net}
        self.optimizers = {"net": torch.optim.Adam(net.parameters(), 1e-2)}
        self.nan_at = nan_at
        self.calls = 0

    def training_step(self, batch, engine):
        loss = nn.functional.cross_entropy(self.modules["net"](batch["image"]), batch["mask"])
        self.calls += 1
        if self.nan_at is not None and self.calls > self.nan_at:
            loss = loss * float("nan")
        loss.backward()
        engine.step(self, "net")
        return {"loss": loss}

    def report(self, engine):
        net = engine.raw["net"]
        return {"weight_sum": float(sum(p.detach().double().sum() for p in net.parameters()))}


class PinnedLab(Lab):
    """A Lab whose stages only record the GPU their worker was pinned to (CUDA_VISIBLE_DEVICES) and when they ran,
    in build/placement/; the first `together` stages wait for each other, so they run at once in distinct workers."""
    together = 4

    def training_root(self):
        return self.build

    def run(self, stage):
        import json
        import os
        import time
        folder = self.build / "placement"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.time()
        (folder / f"{self.key(stage)}.start").write_text("")
        while len(list(folder.glob("*.start"))) < self.together and time.time() - start < 60:
            time.sleep(0.05)
        record = {"stage": str(stage), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid(),
                  "local_rank": os.environ.get("LOCAL_RANK"), "start": start, "end": time.time()}
        (folder / f"{self.key(stage)}.json").write_text(json.dumps(record))
        self.cache.run(self.path(stage), self.record(stage), lambda out: {"done": True})


def run(out, steps=12, ckpt_every=4, nan_at=None, seed=0):
    data = NoiseSet()
    engine = Engine(out, EngineConfig(steps=steps, seed=seed, ckpt_every=ckpt_every, progress=False))
    method = Toy(nan_at)
    return engine.fit(method, step_loader([data], [4], seed, steps), {"toy": True}), engine, method


if __name__ == "__main__":          # torchrun worker: train, then save this rank's parameters
    import os
    out = sys.argv[1]
    metrics, engine, method = run(out, steps=6, ckpt_every=3)
    torch.save({k: v.detach().clone() for k, v in engine.raw["net"].named_parameters()},
               f"{out}/rank{os.environ['RANK']}.pt")
