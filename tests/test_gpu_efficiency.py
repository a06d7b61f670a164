"""The GPU path's efficiency changes, proven on the CPU to change no number: no all-ones weight map per item (a
missing weight is 1 in the loss), cudnn.benchmark on CUDA only."""
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import Dataset

from thesislib.data.stream import step_loader
from thesislib.engine import Engine, EngineConfig
from thesislib.losses import pseudo_label_ce, stream_ce
from thesislib.methods.common import SegMethod


class Items(Dataset):
    def __init__(self, weighted: bool):
        self.weighted = weighted

    def __len__(self):
        return 4

    def __getitem__(self, i):
        item = {"image": torch.zeros(3, 4, 6, dtype=torch.uint8), "mask": torch.full((4, 6), i, dtype=torch.uint8)}
        return {**item, "weight": torch.full((4, 6), 0.5)} if self.weighted else item


def test_items_carry_no_weight_unless_their_dataset_has_one():
    plain = next(iter(step_loader([Items(False), Items(False)], [2, 2], 0, 1)(0)))
    assert "weight" not in plain and plain["domain"].tolist() == [0, 0, 1, 1]
    mixed = next(iter(step_loader([Items(False), Items(True)], [2, 2], 0, 1)(0)))
    assert mixed["weight"].shape == (4, 4, 6) and mixed["weight"][:, 0, 0].tolist() == [1.0, 1.0, 0.5, 0.5]


@pytest.mark.parametrize("streams", [None, [3, 2]])
def test_a_missing_weight_gives_the_loss_of_an_all_ones_weight_bit_for_bit(streams):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 19, 16, 32, generator=g)
    mask = torch.randint(0, 19, (5, 16, 32), generator=g)
    mask[:, :2] = 255
    cw = torch.rand(19, generator=g) + 0.5
    ones = torch.ones(5, 16, 32)
    method = SimpleNamespace(_class_weights_on=lambda device: cw, stream_counts=streams, weighted_streams=None,
                             stream_shares=None)
    without = SegMethod.supervised_loss(method, logits, {"mask": mask})
    with_ones = SegMethod.supervised_loss(method, logits, {"mask": mask, "weight": ones})
    assert torch.equal(without, with_ones)
    assert torch.equal(pseudo_label_ce(logits, mask, None, cw), pseudo_label_ce(logits, mask, ones, cw))
    assert torch.equal(stream_ce(logits, mask, [3, 2], None, cw)[0], stream_ce(logits, mask, [3, 2], ones, cw)[0])


def test_cudnn_benchmark_is_set_on_cuda_only(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    Engine(tmp_path, EngineConfig(steps=1, device="cpu"))
    assert torch.backends.cudnn.benchmark is False
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)        # a CUDA engine, faked on the CPU
    assert Engine(tmp_path, EngineConfig(steps=1, device="cuda")).device == torch.device("cuda", 0)
    assert torch.backends.cudnn.benchmark is True


def test_paper_time_bounds_a_small_profile_between_its_flops_and_the_paper_rates():
    import importlib.util
    from pathlib import Path
    from thesislib.profiles import get_profile
    from thesislib.runs import estimate
    path = Path(__file__).resolve().parents[1] / "scripts" / "paper_time.py"
    spec = importlib.util.spec_from_file_location("paper_time", path)
    paper_time = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paper_time)
    big, small = paper_time.step_flops(get_profile("paper")), paper_time.step_flops(get_profile("gpu"))
    assert 150 < big["seg"] / small["seg"] < 400 and big["gan"] / small["gan"] > 100   # R50 512x1024 vs R18 64x128
    low = paper_time.compute_bound(get_profile("gpu"), estimate.rates())
    assert low["seg"] == pytest.approx(estimate.H100["seg"] * big["seg"] / small["seg"])
    assert "lower bound" in low["source"]
