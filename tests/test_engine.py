import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from thesislib.data.stream import StepBatchSampler
from thesislib.engine import CHECKPOINT, TrainingDiverged, lr_factor
from toy import run

TESTS = Path(__file__).parent


def test_resume_from_checkpoint_matches_uninterrupted_run(tmp_path):
    full, _, _ = run(tmp_path / "full")
    # crash at step 9 (after the checkpoint at step 8), then rerun the same command
    with pytest.raises(TrainingDiverged):
        run(tmp_path / "resumed", nan_at=9)
    assert torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)["step"] == 8
    resumed, _, method = run(tmp_path / "resumed")
    assert method.calls == 4                      # only steps 8..11 were redone
    assert resumed["weight_sum"] == full["weight_sum"]
    steps = [json.loads(l)["step"] for l in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))            # the log has no duplicated steps after resume


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"loss loss = nan at step 6.*last good checkpoint"):
        run(tmp_path, nan_at=6)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["step"] == 4 and not (tmp_path / "metrics.json").exists()


def test_finished_run_is_not_retrained_and_config_mismatch_is_refused(tmp_path):
    first, _, _ = run(tmp_path)
    again, _, method = run(tmp_path)
    assert again == first and method.calls == 0
    final = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert final["step"] == 12 and "optimizers" not in final      # the kept checkpoint is weights only
    (tmp_path / "metrics.json").unlink()                          # killed after training, before evaluation
    evaluated, _, method = run(tmp_path)
    assert method.calls == 0 and evaluated["weight_sum"] == first["weight_sum"]
    with pytest.raises(ValueError, match="different configuration"):
        run(tmp_path, steps=20)


def test_different_seeds_differ(tmp_path):
    a, _, _ = run(tmp_path / "a", seed=0)
    b, _, _ = run(tmp_path / "b", seed=1)
    assert a["weight_sum"] != b["weight_sum"]


def test_step_sampler_is_a_function_of_the_step():
    full = list(StepBatchSampler([10, 5], [3, 1], seed=0, start=0, steps=8))
    tail = list(StepBatchSampler([10, 5], [3, 1], seed=0, start=5, steps=8))
    assert tail == full[5:]
    firsts = [i for batch in full[:3] for d, i, _ in batch if d == 0][:9]
    assert sorted(firsts[:9]) == sorted(set(firsts[:9]))     # an epoch of dataset 0 has no repeats
    ranks = [list(StepBatchSampler([10], [2], 0, 0, 3, rank=r, world=2)) for r in (0, 1)]
    assert all(len(b) == 2 for b in ranks[0]) and ranks[0] != ranks[1]


def test_lr_schedules():
    assert lr_factor("poly", 0, 100) == 1 and lr_factor("poly", 99, 100) < 0.05
    assert [lr_factor("poly", s, 100, warmup=10) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]   # a linear warm-up first
    assert lr_factor("poly", 10, 100, warmup=10) == lr_factor("poly", 10, 100)
    assert lr_factor("linear_decay", 40, 100) == 1 and lr_factor("linear_decay", 75, 100) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_factor("cosine", 0, 10)


def test_ddp_two_processes_gloo_keep_parameters_equal(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    str(TESTS / "toy.py"), str(tmp_path)], check=True, env=env, capture_output=True, timeout=300)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    init = run(tmp_path / "single", steps=1)[1].raw["net"].state_dict()
    assert not torch.equal(init["0.weight"], r0["0.weight"])   # training did move the parameters
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 6


@pytest.mark.parametrize("method", ["cyclegan", "output", "feature"])
def test_ddp_two_processes_gloo_train_the_two_network_methods_and_keep_ranks_equal(method, tmp_path_factory):
    """CycleGAN and both adversarial methods (discriminators frozen inside the generator / segmenter step)
    train under torchrun; every rank ends with the same parameters."""
    world = tmp_path_factory.getbasetemp() / "ddp-world"
    if not (world / "world.json").exists():
        from thesislib.data.check import ensure_checked
        from thesislib.tools.world import write_world
        write_world(world, "smoke", progress=False)
        ensure_checked(world)
    out = tmp_path_factory.mktemp(method)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(TESTS / "ddp_worker.py"), method, str(world), str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0.keys() == r1.keys() and len(r0) >= 2                         # every network of the method
    for name in r0:
        params = [k for k in r0[name] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        assert params and all(torch.equal(r0[name][k], r1[name][k]) for k in params), name
    assert json.loads((out / "metrics.json").read_text())["steps"] == 4
