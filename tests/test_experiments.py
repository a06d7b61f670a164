"""The Lab: stages computed side by side in worker processes equal the same stages computed in order,
and a stage asked for by two processes at once is computed once."""
import json
import threading
from pathlib import Path

import torch

from thesislib.cache import StageCache
from thesislib.experiments import Lab

CALLS = [("source_only", {"seed": 0}), ("oracle", {"seed": 0})]


def test_prefetch_computes_stages_side_by_side_with_the_sequential_results(tmp_path):
    parallel = Lab("smoke", build_dir=tmp_path / "parallel")
    assert not any(parallel._cached(name, kw) for name, kw in CALLS)
    parallel.prefetch(CALLS, workers=2, threads=1)
    assert all(parallel._cached(name, kw) for name, kw in CALLS)

    sequential = Lab("smoke", build_dir=tmp_path / "sequential")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                      # as in the workers
    try:
        expected = [getattr(sequential, name)(**kw)["val"] for name, kw in CALLS]
    finally:
        torch.set_num_threads(threads)
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
