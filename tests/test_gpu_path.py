"""The GPU path, proven on the CPU: no training step of any method forces a host sync (a value read back
from the device, or a boolean mask, which needs the device's count of True values)."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from thesislib.engine import Engine, EngineConfig
from thesislib.profiles import get_profile

aten = torch.ops.aten
SYNCING = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default,
           aten.is_nonzero.default, aten.equal.default}


class NoHostSync(TorchDispatchMode):
    """Fails on every op that makes the host wait for the device: .item(), bool(tensor), nonzero, masked_select,
    and indexing with a boolean mask."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SYNCING:
            raise AssertionError(f"host sync: {func}")
        if func in (aten.index.Tensor, aten.index_put.default, aten.index_put_.default):
            indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
            if any(t is not None and t.dtype == torch.bool for t in indices):
                raise AssertionError(f"host sync: boolean-mask indexing ({func})")
        return func(*args, **kwargs)


SMOKE = get_profile("smoke", image_hw=(32, 64))


def _batch(n_source: int, n_target: int) -> dict:
    g = torch.Generator().manual_seed(0)
    n = n_source + n_target
    return {"image": torch.rand(n, 3, 32, 64, generator=g), "mask": torch.randint(0, 19, (n, 32, 64), generator=g),
            "weight": torch.ones(n, 32, 64), "domain": torch.tensor([0] * n_source + [1] * n_target)}


def _methods():
    from thesislib.methods.adversarial import Adversarial
    from thesislib.methods.cyclegan import CycleGAN
    from thesislib.methods.entropy import EntropyMin
    from thesislib.methods.fda import FDA
    from thesislib.methods.supervised import Supervised
    weights = torch.linspace(0.5, 2.0, 19)

    def two_domain(method):
        method.class_weights, method.domain_counts = weights, [2, 2]
        return method
    return {
        "supervised (class weights, two streams)": lambda: Supervised(SMOKE, class_weights=weights, stream_counts=[2, 2],
                                                                       weighted_streams=[True, False]),
        "fda": lambda: two_domain(FDA(SMOKE)),
        "adversarial output": lambda: two_domain(Adversarial(SMOKE, level="output")),
        "adversarial feature": lambda: two_domain(Adversarial(SMOKE, level="feature")),
        "entropy": lambda: two_domain(EntropyMin(SMOKE)),
        "cyclegan": lambda: CycleGAN(ngf=4, n_blocks=1, ndf=8, pool_size=1, batch_size=2),
    }


@pytest.mark.parametrize("name", list(_methods()))
def test_no_training_step_forces_a_host_sync(name, tmp_path):
    method = _methods()[name]()
    engine = Engine(tmp_path, EngineConfig(steps=3, progress=False))
    engine._prepare(method)
    for step in range(3):                                 # a full image pool on the last steps
        batch = engine.to_device(_batch(2, 2))
        with NoHostSync():
            losses = method.training_step(batch, engine)
    assert losses and all(torch.isfinite(v).all() for v in losses.values())


def test_the_sync_detector_catches_what_it_should():
    x = torch.rand(4)
    for sync in (lambda: x.sum().item(), lambda: x[x > 0.5], lambda: bool(x.sum() > 0), lambda: x.nonzero()):
        with pytest.raises(AssertionError, match="host sync"), NoHostSync():
            sync()
