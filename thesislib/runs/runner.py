"""Compute a set of stages side by side: a small scheduler over the stage graph (thesislib.runs.stages).

`compute(lab, stages)` takes the stages and their inputs that are not cached and starts each as soon as
its inputs are done, the longest remaining chain first, in `workers` processes: one per core on a CPU
(each stage on one torch thread: two one-thread trainings do 1.35x the work of one two-thread training),
`profile.stages_per_gpu` per GPU on a CUDA machine (each worker pinned to one GPU through CUDA_VISIBLE_DEVICES
before CUDA starts, so its `cuda:0` is that GPU), or one SLURM job per stage (`executor="slurm"`, through submitit: every
stage whose inputs are done is queued at once, SLURM decides how many run). The parent draws one bar per
running stage (local workers) and an overall line: stages done of all, where they run (GPUs x stages per
GPU), and the time left, estimated from the images each stage puts through a model.
"""
import os
import re
import shlex
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from thesislib import progress
from thesislib.paths import REPO
from thesislib.runs.stages import KINDS, Stage

EXECUTORS = ("local", "slurm")


def gpu_count() -> int:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES respected), 0 without CUDA; CUDA is not initialised."""
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_slots(gpus: int, per_gpu: int) -> list[str]:
    """The CUDA_VISIBLE_DEVICES value of each local worker, in the order the workers start: every GPU `per_gpu`
    times, round robin (so the first stages spread over the GPUs); GPU i is the parent's i-th visible device."""
    if gpus < 1 or per_gpu < 1:
        raise ValueError(f"gpu slots need at least one GPU and one stage per GPU, got {gpus} x {per_gpu}")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    names = [v.strip() for v in visible.split(",")][:gpus] if visible else [str(i) for i in range(gpus)]
    return [names[i % len(names)] for i in range(len(names) * per_gpu)]


class StageFailed(RuntimeError):
    """A stage raised; the stages not started yet were not started (what needed it would fail too)."""


def graph(lab, stages) -> tuple[dict[str, Stage], dict[str, set[str]]]:
    """({key: stage}, {key: keys of its inputs}) of `stages` and everything they need."""
    nodes, needs, todo = {}, {}, list(stages)
    while todo:
        stage = todo.pop()
        key = lab.key(stage)
        if key in nodes:
            continue
        nodes[key] = stage
        needs[key] = {lab.key(s) for s in stage.needs.values()}
        todo += stage.needs.values()
    return nodes, needs


def longest_chains(nodes, needs, todo, cost) -> dict[str, float]:
    """The cost of the longest chain of pending stages from each pending stage on (itself included)."""
    users = {k: [u for u in todo if k in needs[u]] for k in todo}
    chain = {}

    def length(k):
        if k not in chain:
            chain[k] = cost[k] + max((length(u) for u in users[k]), default=0.0)
        return chain[k]
    return {k: length(k) for k in todo}


def to_compute(lab, nodes, needs, files=()) -> set[str]:
    """The keys to compute: the stages whose result is not known (cache or ledger), and the stages whose files
    are read (an input of those, or of `files`) that are not in this build's cache."""
    todo = {k for k, s in nodes.items() if not lab.done(s)}
    wanted = [lab.key(s) for s in files] + [n for k in todo for n in needs[k]]
    while wanted:
        k = wanted.pop()
        if k not in todo and not lab.local(nodes[k]):
            todo.add(k)
            wanted += needs[k]
    return todo


def compute(lab, stages, workers: int | None = None, executor: str = "local", poll: float | None = None,
            files=()) -> int:
    """Compute every stage of `stages` whose result is not known, its inputs first (see the module docstring),
    and the stages of `files` into this build's cache (the figures read their models); returns how many were
    computed. A failing stage raises StageFailed once the running ones have finished."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    nodes, needs = graph(lab, [*stages, *files])
    todo = to_compute(lab, nodes, needs, files)
    if not todo:
        return 0
    pending = len(todo)
    lab.training_root()                           # the world (or a working copy) and its statistics, before any worker
    cost = {k: float(KINDS[nodes[k].kind].cost(nodes[k], lab.profile)) for k in todo}
    chain = longest_chains(nodes, needs, todo, cost)
    workers = min(workers or (len(todo) if executor == "slurm" else lab.workers()), len(todo))
    if executor == "local" and workers < 2:       # one core, or one stage: in this process, in order
        for k in sorted(todo, key=lambda k: -chain[k]):
            lab.result(nodes[k], files=True)
        return pending
    with _Pool(lab, workers, executor) as pool:
        _schedule(lab, nodes, needs, todo, cost, chain, pool, workers, poll or pool.poll)
    return pending


def _schedule(lab, nodes, needs, todo, cost, chain, pool, workers, poll):
    running, failed, done_cost = {}, None, 0.0
    total = len(todo)
    where = pool.layout
    overall = tqdm(total=round(sum(cost.values())), desc=_overall(0, total, 0, where), unit="img", dynamic_ncols=True,
                   bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]", mininterval=2,
                   position=0, leave=True)
    try:
        while todo or running:
            if failed is None:
                ready = sorted((k for k in todo if not (needs[k] & (todo | set(running)))), key=lambda k: -chain[k])
                for k in ready[:max(0, workers - len(running))]:
                    todo.discard(k)
                    running[k] = pool.submit(nodes[k])
                desc = _overall(total - len(todo) - len(running), total, len(running), where)
                if desc != overall.desc:
                    overall.set_description_str(desc)
            elif not running:
                break
            pool.drain(poll)
            for k, job in list(running.items()):
                if not job.done():
                    continue
                del running[k]
                try:
                    job.result()
                except Exception as e:  # noqa: BLE001 - the first failure stops the run, named by its stage
                    failed = failed or (nodes[k], e, pool.log_of(job))
                    continue
                done_cost += cost[k]
                overall.update(round(done_cost) - overall.n)
    finally:
        overall.close()
    if failed:
        stage, e, log = failed
        raise StageFailed(f"stage {stage} failed: {_detail(e)}; {len(todo)} stage(s) not started. Its log: "
                          f"{log}; rerun to resume from the last checkpoints.") from e


def _detail(e: BaseException) -> str:
    """The error, short: of a SLURM job (submitit sends its traceback as text between dashed lines) the last
    line of the traceback, or the first paragraph when it died without one (timeout, out of memory)."""
    parts = re.split(r"\n-{10,}\n", "".join(traceback.format_exception_only(type(e), e)).strip())
    return parts[1].strip().splitlines()[-1] if len(parts) > 2 else parts[0]


def _n(count: int, noun: str, plural: str = "s") -> str:
    return f"{count} {noun}{plural if count != 1 else ''}"


def _overall(done: int, total: int, running: int, where: str = "") -> str:
    return f"all stages: {done}/{total} done, {running} running" + (f" ({where})" if where else "")


class _Pool:
    """Local worker processes (spawned, their bars drawn here) or SLURM jobs (submitit), one stage each."""

    def __init__(self, lab, workers: int, executor: str):
        self.lab, self.executor, self.workers = lab, executor, workers
        logs = lab.build / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / "stages.log"
        self.poll = 0.2 if executor == "local" else 1.0      # a SLURM job's done() looks for its result file
        self.jobs = []
        gpus = gpu_count() if executor == "local" and lab.device.type == "cuda" else 0
        per = max(1, lab.profile.stages_per_gpu)
        self.layout = ("SLURM jobs" if executor == "slurm" else f"{_n(gpus, 'GPU')} x {_n(per, 'stage')} per GPU"
                       if gpus else f"{_n(workers, 'process', 'es')}")
        self.slots = gpu_slots(gpus, per)[:workers] if gpus else None

    def __enter__(self):
        if self.executor == "local":
            ctx = get_context("spawn")
            self.sink = ctx.Queue()               # the workers' progress: one bar per run, drawn here
            self.board = progress.Board(self.sink)
            slots = None
            if self.slots:                        # each worker takes the next GPU as it starts
                slots = ctx.Queue()
                for slot in self.slots:
                    slots.put(slot)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                            initargs=(self.sink, str(self.log), slots))
        else:
            self.board, self.pool = None, slurm_executor(self.lab, self.lab.build / "slurm")
        return self

    def submit(self, stage: Stage):
        if self.executor == "slurm":              # each job sized for its stage (thesislib.runs.estimate)
            from thesislib.runs.estimate import job_size
            self.pool.update_parameters(**job_size(stage, self.lab.profile))
        job = self.pool.submit(StageJob() if self.executor == "slurm" else compute_one, type(self.lab),
                               self.lab.args, stage)
        self.jobs.append(job)
        return job

    def log_of(self, job) -> Path:
        """Where a worker's stderr went: build/logs/stages.log, or the SLURM job's own file."""
        return self.log if self.executor == "local" else job.paths.stderr

    def drain(self, timeout: float) -> None:
        if self.board is not None:
            self.board.drain(timeout)
        else:
            time.sleep(timeout)

    def __exit__(self, *exc):
        if self.executor == "local":
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.board.close()
        elif exc[0] is not None:                  # interrupted: no job is left behind in the queue
            for job in self.jobs:
                if not job.done():
                    job.cancel(check=False)
        return False


def slurm_executor(lab, folder: Path, requeues: int = 3):
    """A submitit executor for SLURM jobs, one stage a job (each sized by thesislib.runs.estimate.job_size when
    submitted), its logs in folder/<job id>/. A job runs this Python (sys.executable) on this checkout's code
    (PYTHONPATH and working directory: the repository). A job that reaches its time limit is requeued (StageJob,
    up to `requeues` times) and resumes from its last checkpoint. Job states (a job that died without a result:
    out of memory, cancelled) come from `sacct`; on a cluster without an accounting database
    (scripts/local_slurm.sh) from `sacct --completion`, slurmctld's job completion log."""
    import submitit
    executor = submitit.SlurmExecutor(folder=str(folder / "%j"), max_num_timeout=requeues,
                                      python=shlex.quote(sys.executable))
    executor.job_class = _job_class(_slurm_config())
    repo = shlex.quote(str(REPO))
    executor.update_parameters(job_name="thesislib",
                               setup=[f"cd {repo}", f"export PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}}"])
    return executor


def _slurm_config() -> dict[str, str]:
    """`scontrol show config` as {name: value}."""
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    pairs = (line.partition("=") for line in out.splitlines())
    return {k.strip(): v.strip() for k, eq, v in pairs if eq}


def _job_class(config: dict[str, str]):
    """submitit's SlurmJob, or without accounting (AccountingStorageType none) one whose state watcher reads
    the job completion log (`sacct --completion`, JobCompType jobcomp/filetxt); plain `sacct` fails there,
    so a job that died without writing its result would never be seen as done."""
    from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob
    if config.get("AccountingStorageType") != "accounting_storage/none":
        return SlurmJob
    if config.get("JobCompType", "jobcomp/none") in ("jobcomp/none", "(null)"):
        raise RuntimeError("this SLURM cluster keeps neither accounting nor a job completion log, so the state of "
                           "a job cannot be read; set JobCompType=jobcomp/filetxt (as scripts/local_slurm.sh does)")

    class CompletionWatcher(SlurmInfoWatcher):
        def _make_command(self):
            command = super()._make_command()
            return command and [command[0], "--completion", *command[1:]]

    class CompletionJob(SlurmJob):
        watcher = CompletionWatcher(delay_s=60)
    return CompletionJob


def compute_one(lab_type, lab_args: dict, stage: Stage) -> None:
    """A worker (a local process or a SLURM job): the one stage, its inputs already done, in a Lab rebuilt from
    its arguments (`lab_type` is thesislib.runs.lab.Lab, passed so that this module never imports it)."""
    lab_type(**lab_args).run(stage)


class StageJob:
    """A SLURM job's function: compute_one. Near its time limit submitit calls `checkpoint` (SIGUSR2) and requeues
    the job with what it returns, the same call: the stage's training resumes from its last checkpoint.pt."""

    def __call__(self, lab_type, lab_args: dict, stage: Stage) -> None:
        compute_one(lab_type, lab_args, stage)

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission
        return DelayedSubmission(self, *args, **kwargs)


def _init_worker(sink, log: str, slots=None) -> None:
    """A local worker: pinned to its GPU (the next of `slots`, before anything starts CUDA, so the engine's
    `cuda:0` is that GPU); its bars are drawn by the parent; what else it writes to stderr (warnings) goes to
    build/logs/stages.log."""
    if slots is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slots.get(timeout=60)
        os.environ.pop("LOCAL_RANK", None)        # a worker is one process, never a torchrun rank
    progress.send_to(sink)
    sys.stderr = open(log, "a", buffering=1)
