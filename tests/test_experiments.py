"""The Lab: stages computed side by side in worker processes equal the same stages computed in order (each
with its own progress bar, named in words, drawn by the parent), a stage asked for by two processes at
once is computed once, and `make reproduce`'s list of stages puts every teacher before its students."""
import json
import queue
import threading
from concurrent.futures import Future
from pathlib import Path

import torch

from thesislib import progress
from thesislib.cache import StageCache
from thesislib.experiments import Lab, run_name

CALLS = [("source_only", {"seed": 0}), ("oracle", {"seed": 0})]


def test_prefetch_computes_stages_side_by_side_with_the_sequential_results(tmp_path):
    parallel = Lab("smoke", build_dir=tmp_path / "parallel")
    assert not any(parallel.cached(name, kw) for name, kw in CALLS)
    boards = []
    follow = progress.Board.follow

    def recording(board, futures):
        boards.append(board)
        follow(board, futures)

    try:
        progress.Board.follow = recording
        parallel.prefetch(CALLS, workers=2)
    finally:
        progress.Board.follow = follow
    assert all(parallel.cached(name, kw) for name, kw in CALLS)
    # one bar per run, drawn by this process, named in words, finished
    bars = sorted(boards[0].bars.values(), key=lambda b: b.desc)
    assert [b.desc for b in bars] == ["oracle · seed 0", "source only · seed 0"]
    assert all(b.n == b.total for b in bars)

    # in order, in this process with all its threads: each stage still trains on one, so the numbers agree
    sequential = Lab("smoke", build_dir=tmp_path / "sequential")
    threads = torch.get_num_threads()
    expected = [getattr(sequential, name)(**kw)["val"] for name, kw in CALLS]
    assert torch.get_num_threads() == threads
    assert [getattr(parallel, name)(**kw)["val"] for name, kw in CALLS] == expected


def test_a_stage_wanted_by_two_callers_at_once_is_computed_once(tmp_path):
    cache, calls, started = StageCache(tmp_path), [], threading.Event()

    def slow(out):
        calls.append(out)
        started.set()
        threading.Event().wait(0.3)
        (out / "metrics.json").write_text(json.dumps({"miou": 1.0}))
        return {"miou": 1.0}

    results = []
    first = threading.Thread(target=lambda: results.append(cache.run("s", {"a": 1}, slow)))
    first.start()
    started.wait(5)
    results.append(cache.run("s", {"a": 1}, slow))   # waits for the lock, then reads the result
    first.join()
    assert len(calls) == 1 and [r["miou"] for r in results] == [1.0, 1.0]


def test_prune_deletes_only_the_stale_entries(tmp_path):
    def done(out):
        (out / "metrics.json").write_text("{}")
        return {}

    cache = StageCache(tmp_path)
    old, new = cache.run("s", {"a": 1}, done)["run_dir"], cache.run("s", {"a": 2}, done)["run_dir"]
    info = json.loads((tmp_path / old / "stage.json").read_text())
    (tmp_path / old / "stage.json").write_text(json.dumps({**info, "code": "older-code"}))
    assert sorted(r["code"] for r in cache.status()) == ["current", "stale"]
    assert cache.prune() == [Path(old).name]
    assert [r["dir"] for r in cache.status()] == [Path(new).name]


def test_bars_are_named_in_words_and_a_workers_bar_reaches_the_parent(tmp_path):
    assert run_name("self_training", {"seed": 1, "source_root": "/x", "teacher": "/y"}) == "self-training · seed 1"
    assert run_name("oracle", {"seed": 0, "source": "cityscapes", "fraction": 0.125}) == "oracle · seed 0 · fraction 0.125"
    assert run_name("oracle", {"seed": 2, "source": "cityscapes", "fraction": 1.0}) == "oracle · seed 2"
    with progress.naming("self-training · seed 1"):
        assert progress.describe(tmp_path / "round2") == "self-training · seed 1 · round 2"
    assert progress.describe(tmp_path / "runs" / "src") == "src"           # the command line: the run folder
    sink = queue.Queue()
    progress.send_to(sink)
    try:
        with progress.naming("oracle · seed 0"):
            a, b = progress.bar(tmp_path / "a", total=5), progress.bar(tmp_path / "round1", total=3)
        for _ in range(5):
            a.update()
        a.set_postfix({"loss": "0.5"})
        a.close()
        b.update(3)
        b.close()
    finally:
        progress.send_to(None)

    done = Future()
    done.set_result(None)
    board = progress.Board(sink)
    board.follow([done])
    assert {(x.desc, x.n, x.total) for x in board.bars.values()} == {("oracle · seed 0", 5, 5),
                                                                     ("oracle · seed 0 · round 1", 3, 3)}


def test_setup_applies_overrides_and_check_profiles_keep_their_exports_in_build(tmp_path, monkeypatch):
    from thesislib.notebook import EXPORTS_ENV, THESIS, setup
    lab, seeds, _ = setup("smoke", build_dir=tmp_path, overrides={"steps": 3, "encoder_weights": "none"})
    assert lab.profile.steps == 3 and lab.profile.encoder_weights is None
    assert lab.tables_dir == tmp_path / "smoke" / "explore" / "tables"            # not a thesis export run
    monkeypatch.setenv(EXPORTS_ENV, THESIS)
    for profile in ("smoke", "paper-check"):
        lab = setup(profile, build_dir=tmp_path)[0]
        assert lab.tables_dir == tmp_path / profile / "tables" and lab.figures_dir == tmp_path / profile / "figures"


def test_after_a_failed_stage_the_calls_not_yet_started_are_cancelled():
    failed, running, waiting = Future(), Future(), Future()
    failed.set_running_or_notify_cancel()
    failed.set_exception(RuntimeError("boom"))
    running.set_running_or_notify_cancel()      # a running call finishes; one not started is cancelled
    threading.Timer(0.5, running.set_result, (None,)).start()
    progress.Board(queue.Queue()).follow([failed, running, waiting])
    assert running.result() is None and not running.cancelled()
    assert waiting.cancelled() and isinstance(failed.exception(), RuntimeError)


def test_the_thesis_calls_put_cyclegan_first_and_every_teacher_before_what_starts_from_it(tmp_path):
    calls = Lab("default", build_dir=tmp_path).thesis_calls()
    names = [name for name, _ in calls]
    assert names[0] == "cyclegan" and len(calls) == len({json.dumps(c, sort_keys=True) for c in calls})
    teachers = {kw["seed"]: i for i, (name, kw) in enumerate(calls) if name == "translated"}
    assert sorted(teachers) == [0, 1, 2]
    for i, (name, kw) in enumerate(calls):
        if name in ("self_training", "adversarial", "entropy", "semi_supervised"):
            assert i > teachers[kw["seed"]], (name, kw)
    # notebook 06: both methods at each labeled fraction below 1, three seeds each; 03: the oracles scored
    assert sum(name == "semi_supervised" for name in names) == 6 and names.count("oracle") == 9
    assert sum(name == "score" for name in names) == 9
