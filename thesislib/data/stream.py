"""Step-addressed batches: the batch of step s is a pure function of (seed, s), so a resumed run
sees exactly the batches an uninterrupted run would, with any number of DataLoader workers or ranks."""
import os

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate


def _generator(*keys: int) -> torch.Generator:
    seed = 0
    for k in keys:
        seed = (seed * 1_000_003 + int(k)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class StepBatchSampler(Sampler):
    """For each step in [start, steps) yields [(dataset, item, sample_seed), ...].

    `counts[d]` items come from dataset d per (global) batch; `weights[d]` (optional, per item)
    turns uniform epoch-wise shuffling into weighted sampling (rare-class sampling). With `world`
    ranks the global batch is split so that rank r takes every world-th item.
    """

    def __init__(self, sizes, counts, seed, start, steps, weights=None, rank=0, world=1):
        if any(c > 0 and n == 0 for n, c in zip(sizes, counts)):
            raise ValueError(f"cannot draw from an empty dataset: sizes={sizes}, counts={counts}")
        self.sizes, self.counts, self.seed = list(sizes), list(counts), seed
        self.start, self.steps, self.rank, self.world = start, steps, rank, world
        self.weights = weights or [None] * len(sizes)

    def __len__(self):
        return max(0, self.steps - self.start)

    def _items(self, d: int, step: int) -> list[int]:
        n, c, w = self.sizes[d], self.counts[d] * self.world, self.weights[d]
        if w is not None:
            return torch.multinomial(w, c, replacement=True, generator=_generator(self.seed, d, step)).tolist()
        out = []
        for p in range(step * c, (step + 1) * c):       # position in an endless sequence of epochs
            epoch, i = divmod(p, n)
            out.append(int(torch.randperm(n, generator=_generator(self.seed, d, 10**9 + epoch))[i]))
        return out

    def __iter__(self):
        for step in range(self.start, self.steps):
            batch = [(d, i) for d in range(len(self.sizes)) for i in self._items(d, step)]
            seeds = torch.randint(0, 2**31 - 1, (len(batch),), generator=_generator(self.seed, step, 7)).tolist()
            yield [(d, i, s) for (d, i), s in list(zip(batch, seeds))[self.rank :: self.world]]


class Mixture(Dataset):
    """Several datasets addressed by (dataset, item, seed); the seed drives the random transforms.

    Items get a `domain` (the dataset's position); a per-pixel `weight` only where their dataset has one (a loss
    takes a missing weight as 1: no all-ones map per item to build, ship and copy).
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __len__(self):
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key):
        d, i, seed = key
        torch.manual_seed(seed)
        item = dict(self.datasets[d][i])
        item["domain"] = d
        return item


def collate(items: list[dict]) -> dict:
    """default_collate; in a batch where only some items carry a `weight` (pseudo-labels with their confidence
    beside labeled items) the others get ones, so the batch has one weight map or none."""
    if any("weight" in it for it in items) and not all("weight" in it for it in items):
        items = [it if "weight" in it else {**it, "weight": torch.ones(it["mask"].shape)} for it in items]
    return default_collate(items)


def step_loader(datasets, counts, seed, steps, weights=None, num_workers=0):
    """A function start_step -> DataLoader over the remaining steps (what the engine expects).

    Under torchrun each rank gets `counts` items per step (the global batch is counts x world size)."""
    mix = Mixture(datasets)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))

    def make(start: int) -> DataLoader:
        sampler = StepBatchSampler([len(d) for d in datasets], counts, seed, start, steps, weights, rank, world)
        return DataLoader(mix, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate,
                          pin_memory=torch.cuda.is_available())

    return make
