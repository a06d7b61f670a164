"""`reproduce --executor slurm`: the stages as SLURM jobs (submitit) give the numbers of the local run, a
failing job names its stage, and `reproduce` runs a notebook on what the jobs computed. Needs a SLURM cluster that answers here (CI starts one on localhost with
scripts/local_slurm.sh and sets THESISLIB_TEST_SLURM=1, which turns a missing cluster into a failure);
skipped otherwise."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from thesislib.runs import pipeline, runner
from thesislib.runs.lab import Lab
from thesislib.runs.stages import S

STAGES = [S("score", model=S("oracle", seed=0), on="val"), S("score", model=S("source_only", seed=0), on="val")]


def _cluster() -> str | None:
    """Why SLURM cannot be used here, or None."""
    if not (shutil.which("sbatch") and shutil.which("sinfo")):
        return "no SLURM here (sbatch/sinfo not on PATH; scripts/local_slurm.sh starts one)"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    if not {"idle", "mixed", "allocated"} & {s.rstrip("*~#") for s in states.split()}:
        return f"no SLURM node up (sinfo: {states.strip() or 'no answer'})"
    return None


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The build folder of the SLURM runs of this module (the last test reuses the first's stages)."""
    reason = _cluster()
    if reason and os.environ.get("THESISLIB_TEST_SLURM"):
        pytest.fail(f"THESISLIB_TEST_SLURM is set but {reason}")
    if reason:
        pytest.skip(reason)
    return tmp_path_factory.mktemp("slurm")


def _lab(build, **overrides):
    return Lab("smoke", build_dir=build, engine={"progress": False}, overrides=overrides)


def test_slurm_jobs_give_the_numbers_of_the_local_run(slurm, tmp_path, capsys):
    t0 = time.time()
    jobs = _lab(slurm)
    assert runner.compute(jobs, STAGES, executor="slurm") == 4
    t1 = time.time()
    here = _lab(tmp_path / "local")
    assert runner.compute(here, STAGES, workers=2) == 4
    t2 = time.time()
    got, expected = ([lab.result(s)["miou"] for s in STAGES] for lab in (jobs, here))
    with capsys.disabled():
        print(f"\nslurm: mIoU {got} in {t1 - t0:.1f} s; local: mIoU {expected} in {t2 - t1:.1f} s")
    assert got == expected
    logs = list((slurm / "slurm").glob("*/*_log.err"))
    assert len(logs) == 4, logs                    # one job per stage, its log in build/slurm/<job id>/
    scripts = [f.read_text() for f in (slurm / "slurm").glob("*/*_submission.sh")]
    assert len(scripts) == 4 and all("--signal=USR2@" in t and "--time=120" in t for t in scripts)   # requeue armed


def test_a_failing_slurm_job_names_its_stage(slurm, tmp_path):
    lab = _lab(tmp_path, encoder="no_such_encoder")
    with pytest.raises(runner.StageFailed, match=r"stage oracle\(seed=0\) failed: .*no_such_encoder.*Its log: "
                                                 r".*/slurm/\d+/\d+_0_log\.err"):
        runner.compute(lab, STAGES[:1], executor="slurm")


def test_reproduce_runs_a_notebook_on_the_stages_of_slurm_jobs(slurm, capsys):
    assert pipeline.reproduce("smoke", build_dir=slurm, only=["03"], executor="slurm") == 0
    out = capsys.readouterr().out
    assert "as SLURM jobs" in out and "done: 1 notebooks" in out, out
    assert (slurm / "smoke" / "tables" / "table_4_3_direct_transfer.csv").is_file()


def test_a_job_signalled_before_its_limit_is_requeued_and_resumes_to_the_same_numbers(slurm, tmp_path, capsys):
    """SLURM warns a job with SIGUSR2 before its time limit (`--signal`); sent here by hand once the training has
    checkpointed, so the test does not wait for a limit. submitit requeues the same call, which resumes from the
    checkpoint (scripts/local_slurm.sh shortens the requeued job's wait to 10 s) and ends with the numbers of an
    uninterrupted local run."""
    import threading
    settings = {"steps": 300, "ckpt_every": 10}
    lab = Lab("smoke", build_dir=tmp_path / "jobs", overrides=settings)    # bars on: each run's first shows its start
    stage = STAGES[0]
    done = {}
    worker = threading.Thread(target=lambda: done.update(n=runner.compute(lab, [stage], executor="slurm")))
    worker.start()
    checkpoint = lab.path(stage["model"]) / "checkpoint.pt"
    for _ in range(600):
        if checkpoint.exists():
            break
        time.sleep(0.2)
    assert checkpoint.exists(), "the training never checkpointed"
    job, = (p.name for p in (tmp_path / "jobs" / "slurm").iterdir() if p.is_dir())    # the oracle's, the only one
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    worker.join(timeout=600)
    assert done.get("n") == 2, done
    out, err = ((tmp_path / "jobs" / "slurm" / job / f"{job}_0_log.{x}").read_text() for x in ("out", "err"))
    assert "Requeued job" in out and out.count("Starting with JobEnvironment") == 2, out
    starts = [int(n) for n in re.findall(r"\| *(\d+)/300 \[00:00<\?, \?it/s\]", err)]    # each run's first bar
    assert len(starts) == 2 and starts[0] == 0 and starts[1] >= 10, starts   # the rerun began at its checkpoint
    steps = [json.loads(line)["step"] for line in (lab.path(stage["model"]) / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] >= 290       # each logged step once, to the end
    here = _lab(tmp_path / "local", **settings)
    runner.compute(here, [stage], workers=1)
    with capsys.disabled():
        print(f"\nrequeued job {job}: mIoU {lab.result(stage)['miou']}, uninterrupted {here.result(stage)['miou']}")
    assert lab.result(stage)["miou"] == here.result(stage)["miou"]


# ---- without a cluster: each job's size, the requeue on a time-out, placement fields never divert exports
def test_paper_jobs_ask_for_a_gpu_and_a_time_from_their_estimate():
    from thesislib.runs import plan
    from thesislib.runs.estimate import H100, MARGIN, START_MINUTES, job_size, stage_seconds
    lab = Lab("paper", data_root="/the-real-data", build_dir="/tmp/paper-sizes")
    lab._data_id = {"estimate": "paper"}                       # no data needed to size jobs
    p = lab.profile
    nodes, _ = runner.graph(lab, plan.thesis(p))
    for stage in nodes.values():
        size = job_size(stage, p)
        small = stage.kind in ("score", "predictions")
        assert size["gpus_per_node"] == 1, stage
        assert (size["cpus_per_task"], size["mem"]) == ((5, "24GB") if small else (10, "48GB")), stage
        expected = min(60 * p.job_hours, START_MINUTES + MARGIN * stage_seconds(stage, p, H100) / 60)
        assert size["time"] == max(1, round(expected)), stage
    times = {s.kind: job_size(s, p)["time"] for s in nodes.values()}
    assert times["score"] < times["oracle"] < times["self_training"] <= 24 * 60


def test_a_job_without_gpus_asks_for_the_profiles_hours():
    from thesislib.runs.estimate import job_size
    p = Lab("smoke").profile
    assert job_size(S("oracle", seed=0), p) == {"time": 120, "cpus_per_task": 1, "mem": "2GB"}
    assert job_size(STAGES[0], p) == {"time": 120, "cpus_per_task": 1, "mem": "2GB"}


def test_a_timed_out_job_is_requeued_with_the_same_call():
    import pickle
    job = runner.StageJob()
    again = pickle.loads(pickle.dumps(job.checkpoint(Lab, {"profile": "smoke"}, STAGES[0])))
    assert isinstance(again.function, runner.StageJob)
    assert again.args == (Lab, {"profile": "smoke"}, STAGES[0]) and again.kwargs == {}


def test_placement_overrides_keep_the_thesis_exports_and_keys(tmp_path):
    from thesislib.runs.notebook import setup
    where = {"job_gpus": 1, "job_hours": 8.0, "stages_per_gpu": 2, "num_workers": 3, "job_cpus": 4, "job_mem_gb": 9}
    plain = _lab(tmp_path)
    placed = _lab(tmp_path, **where)
    assert placed.overrides == {} and placed.args["overrides"] == where     # a worker still gets them
    assert placed.key(STAGES[0]) == plain.key(STAGES[0]) and placed.provenance == plain.provenance
    _, out = setup("smoke", build_dir=tmp_path, exports_only=True, overrides=where, exports="thesis")
    assert out.tables_dir == tmp_path / "smoke" / "tables"                       # not explore/
    _, explored = setup("smoke", build_dir=tmp_path, exports_only=True, overrides={"steps": 3}, exports="thesis")
    assert "explore" in explored.tables_dir.parts
