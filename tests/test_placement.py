"""Stage placement on a CUDA node, faked on the CPU: GPUs x `stages_per_gpu` local workers, each pinned to one GPU
(CUDA_VISIBLE_DEVICES set in the worker before CUDA starts), the first stages spread over the GPUs."""
import json
from collections import defaultdict

import pytest

from thesislib.runs import runner
from thesislib.runs.stages import S
from toy import PinnedLab


@pytest.mark.parametrize("gpus, per_gpu", [(4, 1), (2, 2)])
def test_every_stage_runs_pinned_to_one_gpu_of_a_faked_node(tmp_path, monkeypatch, capsys, gpus, per_gpu):
    monkeypatch.setattr(runner, "gpu_count", lambda: gpus)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    lab = PinnedLab("smoke", build_dir=tmp_path, device="cuda", engine={"progress": False},
                    overrides={"stages_per_gpu": per_gpu})
    assert lab.workers() == gpus * per_gpu
    stages = [S("oracle", seed=seed) for seed in range(6)]
    assert runner.compute(lab, stages) == 6
    runs = [json.loads(f.read_text()) for f in (tmp_path / "placement").glob("*.json")]
    assert sorted(r["stage"] for r in runs) == sorted(map(str, stages))
    assert all(r["gpu"] in {str(g) for g in range(gpus)} and r["local_rank"] is None for r in runs), runs
    per_worker = defaultdict(set)
    for r in runs:
        per_worker[r["pid"]].add(r["gpu"])
    assert len(per_worker) <= gpus * per_gpu and all(len(g) == 1 for g in per_worker.values()), per_worker
    first = sorted(runs, key=lambda r: r["start"])[:gpus * per_gpu]      # they ran at once (PinnedLab.together)
    on_gpu = defaultdict(int)
    for r in first:
        on_gpu[r["gpu"]] += 1
    assert on_gpu == {str(g): per_gpu for g in range(gpus)}, first        # spread: every GPU, per_gpu stages each
    assert f"({gpus} GPUs x {per_gpu} stage{'s' if per_gpu > 1 else ''} per GPU)" in capsys.readouterr().err


def test_gpu_slots_spread_round_robin_over_the_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert runner.gpu_slots(4, 2) == ["0", "1", "2", "3", "0", "1", "2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")           # e.g. what SLURM gave the job
    assert runner.gpu_slots(2, 2) == ["5", "7", "5", "7"]
    with pytest.raises(ValueError, match="at least one GPU"):
        runner.gpu_slots(0, 4)


def test_a_cpu_lab_keeps_one_worker_per_core(tmp_path, monkeypatch):
    import os
    monkeypatch.setattr(runner, "gpu_count", lambda: 8)
    assert PinnedLab("gpu", build_dir=tmp_path, device="cpu").workers() == (os.cpu_count() or 1)
