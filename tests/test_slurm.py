"""`reproduce --executor slurm`: the stages as SLURM jobs (submitit) give the numbers of the local run, a
failing job names its stage, and `reproduce` runs a notebook on what the jobs computed. Needs a SLURM cluster that answers here (CI starts one on localhost with
scripts/local_slurm.sh and sets THESISLIB_TEST_SLURM=1, which turns a missing cluster into a failure);
skipped otherwise."""
import os
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
