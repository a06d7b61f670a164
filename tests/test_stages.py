"""The stage graph and its cache: a stage is keyed by what it reads, so changing one self-training field
recomputes self-training and what reads it, and a change of the scoring code re-scores without retraining;
stages computed side by side equal the same stages computed in order; a stage asked for twice at once is
computed once; a failing stage stops the run and names itself; `status` says what is stale and why."""
import json
import queue
import shutil
import threading
import warnings
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from thesislib import progress

from thesislib.profiles import Profile, get_profile
from thesislib.report.figures import fraction_label
from thesislib.runs import plan, runner, stages
from thesislib.runs.cache import StageCache, StageMissing
from thesislib.runs.estimate import cpu_hours
from thesislib.runs.lab import Lab
from thesislib.runs.stages import KINDS, S

SMOKE = get_profile("smoke")


def closure(lab, tops) -> dict:
    nodes, _ = runner.graph(lab, tops)
    return nodes


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """Every stage of the thesis at the smoke profile, computed once (side by side, two workers)."""
    build = tmp_path_factory.mktemp("build")
    lab = Lab("smoke", build_dir=build, engine={"progress": False})
    assert runner.compute(lab, plan.thesis(lab.profile), workers=2) > 20
    return build


def test_one_self_training_field_changes_only_self_training_and_what_reads_it(computed):
    base = Lab("smoke", build_dir=computed, engine={"progress": False})
    swept = Lab("smoke", build_dir=computed, engine={"progress": False}, overrides={"st_real_share": (0.5, 0.5)})
    before, after = closure(base, plan.thesis(base.profile)), closure(swept, plan.thesis(swept.profile))
    changed = [s for k, s in after.items() if k not in before]
    kinds = {s.kind if s.kind != "score" else "score of " + s["model"].kind for s in changed}
    assert kinds == {"self_training", "score of self_training"}, kinds
    assert all(swept.done(s) for k, s in after.items() if k in before)            # the rest is read, not recomputed
    computed_now = runner.compute(swept, plan.thesis(swept.profile), workers=1)
    assert computed_now == len(changed) and computed_now < len(after) / 3
    # the same stage under another build folder has the same key (no paths in keys)
    elsewhere = Lab("smoke", build_dir=computed / "elsewhere")
    assert {elsewhere.key(s) for s in before.values()} == set(before)


def test_a_change_of_the_scoring_code_rescores_without_retraining(computed, monkeypatch):
    lab = Lab("smoke", build_dir=computed, engine={"progress": False})
    tops = plan.notebook("04_domain_adaptation", lab.profile)
    before = closure(lab, tops)
    real = stages.code_version

    def edited(module):                         # as if thesislib/metrics.py had been edited
        return {f: ("edited" if f == "metrics.py" else v) for f, v in real(module).items()}
    monkeypatch.setattr(stages, "code_version", edited)
    monkeypatch.setattr("thesislib.runs.lab.code_version", edited)
    rescored = Lab("smoke", build_dir=computed, engine={"progress": False})
    after = closure(rescored, tops)
    changed = [s for k, s in after.items() if k not in before]
    assert changed and {s.kind for s in changed} == {"score"}
    assert runner.compute(rescored, tops, workers=1) == len(changed)
    status = {r["dir"]: r["status"] for r in rescored.status()}
    old_score = next(k for k, s in before.items() if s.kind == "score")
    assert status[f"score-{old_score}"] == "stale: code of metrics.py changed"


def test_a_stage_key_reads_what_the_code_computes_not_its_comments(tmp_path):
    original = '"""Module."""\nimport torch  # a comment\n\n\ndef f(x):\n    """Doubles."""\n    return 2 * x\n'
    documented = '"""Module, now explained."""\nimport torch\n\n\ndef f(x):\n    """Doubles x (a longer docstring)."""\n    # the same computation\n    return 2 * x\n'
    edited = original.replace("2 * x", "3 * x")
    digests = []
    for i, text in enumerate((original, documented, edited)):
        (tmp_path / f"m{i}.py").write_text(text)
        digests.append(stages.source_digest(tmp_path / f"m{i}.py"))
    assert digests[0] == digests[1] != digests[2]


def test_status_says_what_changed(computed):
    lab = Lab("smoke", build_dir=computed, overrides={"st_real_share": (0.25, 0.75)})
    rows = lab.status()
    assert any(r["status"] == "current" for r in rows)
    stale = [r for r in rows if r["stage"].startswith("self_training(seed=0)")]
    assert stale and all("st_real_share" in r["status"] for r in stale), stale


def test_status_counts_each_notebooks_stages_done_and_their_images_left(computed, tmp_path, capsys):
    from thesislib.__main__ import main
    from thesislib.runs.estimate import CPU_RUN
    done = Lab("smoke", build_dir=computed).progress_by_notebook()
    assert [r["notebook"] for r in done] == list(plan.NOTEBOOKS)
    assert sum(r["stages"] for r in done) == len(runner.graph(Lab("smoke", build_dir=computed), plan.thesis(SMOKE))[0])
    assert all(r["done"] == r["stages"] and r["images_left"] == 0 for r in done) and sum(r["images"] for r in done) > 0
    changed = Lab("smoke", build_dir=computed, overrides={"st_steps": 7}).progress_by_notebook()
    left = {r["notebook"]: r["images_left"] for r in changed}
    assert left["05_self_training"] + left["04_domain_adaptation"] > 0 and left["03_direct_transfer"] == 0
    assert cpu_hours(CPU_RUN["images"], CPU_RUN["bench"]) == pytest.approx(86.6 / 60)
    (tmp_path / "bench.json").write_text(json.dumps({"device_type": "cpu", "models": {"deeplabv3plus": {
        "configs": {"fp32_eager": {"images_per_s": CPU_RUN["bench"] / 2}}}}}))
    main(["status", "--profile", "smoke", "--build-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "h left at bench 28.8 img/s" in out and "0/" in out


def test_status_names_an_exploration_other_not_stale(computed):
    """A stage the plan does not name (self-training with other options) is an exploration: "other", even though
    the plan holds a self-training stage of the same seed and teacher."""
    lab = Lab("smoke", build_dir=computed, engine={"progress": False})
    variant = S("self_training", seed=0, options={"floor": 0.9})
    assert runner.compute(lab, [variant], workers=1) == 1
    rows = lab.status()
    assert [r["status"] for r in rows if r["stage"] == str(variant)] == ["other"]
    assert "current" in [r["status"] for r in rows if r["stage"] == "self_training(seed=0)"]


def test_every_kind_reads_only_the_profile_fields_it_declares(computed, tmp_path):
    """The key of a stage holds the profile fields its kind declares; a kind that read another field would be
    reused wrongly. Each kind's function runs here again on a profile that records what is read."""
    lab = Lab("smoke", build_dir=computed, engine={"progress": False})
    read = set()

    class Recording:
        def __init__(self, profile):
            object.__setattr__(self, "_p", profile)

        def __getattr__(self, name):
            read.add(name)
            return getattr(self._p, name)

    not_results = {"name", "num_workers", "ram_cache_mb", "ckpt_every", "seeds", "fractions", "n_source", "n_train",
                   "n_extra", "n_val", "world_hw", "source_world_hw", "stages_per_gpu"}
    seen = set()
    for key, stage in closure(lab, plan.thesis(lab.profile)).items():
        if (stage.kind, stage.get("on")) in seen:
            continue                                   # one stage of each kind (and each scored set)
        seen.add((stage.kind, stage.get("on")))
        read.clear()
        watched = Lab("smoke", build_dir=computed, engine={"progress": False})
        watched.profile = Recording(lab.profile)
        out = tmp_path / f"{stage.kind}-{key}"
        KINDS[stage.kind].compute(watched, stage, out, {n: lab.path(s) for n, s in stage.needs.items()})
        undeclared = read - set(KINDS[stage.kind].fields) - not_results
        assert not undeclared, f"{stage} reads {sorted(undeclared)}, not in its kind's fields"
    assert {f.name for f in fields(Profile)} >= not_results


def test_side_by_side_equals_in_order(tmp_path):
    tops = [S("score", model=S("source_only", seed=0), on="val"), S("score", model=S("oracle", seed=0), on="val")]
    parallel = Lab("smoke", build_dir=tmp_path / "parallel", engine={"progress": False})
    boards = []
    drain = progress.Board.drain

    def recording(board, timeout):
        boards.append(board) if board not in boards else None
        drain(board, timeout)
    progress.Board.drain = recording
    try:
        assert runner.compute(parallel, tops, workers=2) == 4
    finally:
        progress.Board.drain = drain
    sequential = Lab("smoke", build_dir=tmp_path / "sequential", engine={"progress": False})
    threads = torch.get_num_threads()
    expected = [sequential.result(s)["miou"] for s in tops]             # in this process, one thread per stage
    assert torch.get_num_threads() == threads
    assert [parallel.result(s)["miou"] for s in tops] == expected


def test_a_failing_stage_stops_the_run_and_names_itself(tmp_path, monkeypatch):
    lab = Lab("smoke", build_dir=tmp_path, engine={"progress": False})
    tops = [S("score", model=S("oracle", seed=0, fraction=0.5), on="val")]
    monkeypatch.setattr(runner, "_Pool", _FailingPool)
    with pytest.raises(runner.StageFailed, match=r"stage oracle\(fraction=1/2, seed=0\) failed: RuntimeError: boom"):
        runner.compute(lab, tops + [S("source_only", seed=0)], workers=2)


class _FailingPool:
    """A pool whose stages fail (oracle) or finish at once (anything else), in this process."""

    def __init__(self, lab, workers, executor):
        self.poll, self.log, self.layout = 0.01, Path("stages.log"), ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, stage):
        from concurrent.futures import Future
        f = Future()
        f.set_exception(RuntimeError("boom")) if stage.kind == "oracle" else f.set_result(None)
        return f

    def drain(self, timeout):
        pass

    def log_of(self, job):
        return self.log


def test_a_stage_wanted_by_two_callers_at_once_is_computed_once(tmp_path):
    cache, calls, started = StageCache(tmp_path), [], threading.Event()

    def slow(out):
        calls.append(out)
        started.set()
        threading.Event().wait(0.3)
        return {"miou": 1.0}

    results = []
    d = cache.folder("s", "k")
    first = threading.Thread(target=lambda: results.append(cache.run(d, {"kind": "s"}, slow)))
    first.start()
    started.wait(5)
    results.append(cache.run(d, {"kind": "s"}, slow))   # waits for the lock, then reads the result
    first.join()
    assert len(calls) == 1 and [r["miou"] for r in results] == [1.0, 1.0]


def test_prune_deletes_only_the_entries_of_older_code(tmp_path):
    cache = StageCache(tmp_path)
    old, new = cache.folder("s", "a"), cache.folder("s", "b")
    cache.run(old, {"kind": "s", "code": {"x.py": "1"}}, lambda out: {})
    cache.run(new, {"kind": "s", "code": {"x.py": "2"}}, lambda out: {})
    assert cache.prune({"s": {"x.py": "2"}}) == [old.name] and [d.name for d, _ in cache.entries()] == [new.name]


def test_stages_are_named_in_words_and_a_workers_bar_reaches_the_parent(tmp_path):
    st = S("self_training", seed=1, teacher=S("joint", seed=1, fraction=1 / 64), options={"labeled_fraction": 1 / 64})
    assert str(st) == "self_training(options={labeled_fraction=1/64}, seed=1, teacher=joint(fraction=1/64, seed=1))"
    assert S("oracle", seed=2, fraction=1 / 16).words == "oracle · seed 2 · fraction 1/16"
    with progress.naming("self-training · seed 1"):
        assert progress.describe(tmp_path / "round2") == "self-training · seed 1 · round 2"
    sink = queue.Queue()
    progress.send_to(sink)
    try:
        with progress.naming("oracle · seed 0"):
            a = progress.bar(tmp_path / "a", total=5)
        a.update(5)
        a.close()
    finally:
        progress.send_to(None)
    board = progress.Board(sink)
    board.drain(0)
    assert [(x.desc, x.n, x.total) for x in board.bars.values()] == [("oracle · seed 0", 5, 5)]


def test_the_plan_reads_every_teacher_of_the_chapters():
    p = get_profile("default")
    thesis = plan.thesis(p)
    assert len(thesis) == len(set(thesis))
    loops = [s["model"] for s in thesis if s.kind == "score" and s["model"].kind == "self_training"
             and s["model"].get("teacher")]
    teachers = {s["model"]["teacher"].kind for s in thesis if s.kind == "score" and s["model"].kind == "self_training"
                and s["model"].get("teacher")}
    assert teachers == {"oracle", "joint"} and len(loops) == 3 * 2 * len(p.seeds)      # three rows, two fractions < 1
    controls = [s["model"] for s in thesis if s.kind == "score" and s["model"].kind == "self_training"
                and dict(s["model"].get("options", ())).get("real_share") == (0.0, 0.0)]
    assert len(controls) == len(p.seeds) * (1 + 2)          # chapter 5's, and the loop's at each fraction < 1
    for control in (c for c in controls if c.get("teacher")):   # the loop's control: its teacher and labels
        loop = plan.data_dependency_stage("loop", control.seed, dict(control["options"])["labeled_fraction"])
        assert control["teacher"] == loop["teacher"]
        assert {k: v for k, v in control["options"] if k != "real_share"} == dict(loop["options"])


def test_a_tuple_override_reaches_the_notebooks_as_a_tuple():
    from thesislib.runs.pipeline import jsonable
    passed = jsonable({"st_real_share": (0.5, 0.5), "seeds": (0,)})
    assert passed == {"st_real_share": [0.5, 0.5], "seeds": [0]}
    assert get_profile("smoke", **json.loads(json.dumps(passed))) == get_profile("smoke", st_real_share=(0.5, 0.5),
                                                                                seeds=(0,))


def test_the_science_core_imports_nothing_of_runs_report_or_tools():
    """thesislib/ at a glance: the science core (models, methods, data, engine, losses, metrics, pseudo-labels,
    inference, profiles) reads alone; the stage graph (runs/), reporting (report/) and tools/ build on it. No core
    file imports one of theirs, anywhere in it (deferred imports count), so no core closure reaches them."""
    from thesislib.runs.stages import PACKAGE, _imports
    rooms = {"runs", "report", "tools"}
    core = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in rooms and p.name != "__main__.py"]
    assert {"engine.py", "pseudo.py", "self_training.py", "segmentation.py"} <= {p.name for p in core}
    for path in core:
        reached = {p.relative_to(PACKAGE).parts[0] for p in _imports(path)} & rooms
        assert not reached, f"{path.relative_to(PACKAGE)} imports from {sorted(reached)}"


def test_a_stage_in_the_ledger_is_done_and_its_files_are_made_again_where_needed(tmp_path):
    """A run that spans machines: the ledger's results count as done; a stage that reads a model the ledger
    knows only by its result trains it again, and a result computed again is checked against the ledger."""
    model = S("source_only", seed=0)
    on_val, on_gta5 = S("score", model=model, on="val"), S("score", model=model, on="gta5")
    labs = {name: Lab("smoke", build_dir=tmp_path / name, engine={"progress": False}, ledger_dir=tmp_path / "ledger",
                      compute=name != "reader") for name in ("first", "reader", "second")}
    assert runner.compute(labs["first"], [on_val], workers=1) == 2
    assert labs["first"].save_to_ledger() == (2, 2) and labs["first"].save_to_ledger() == (0, 2)

    reader = labs["reader"]                       # a new machine: nothing cached, the ledger committed
    assert reader.done(on_val) and reader.done(model) and not reader.local(model)
    assert reader.result(on_val)["miou"] == labs["first"].result(on_val)["miou"]
    with pytest.raises(StageMissing, match="ledger has its result, not its files"):
        reader.load_model(model)

    second = labs["second"]
    assert runner.compute(second, [on_val], workers=1) == 0                     # known: nothing to do
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*differs from the ledger")        # trained again: the ledger's model
        assert runner.compute(second, [on_gta5], workers=1) == 2
    assert second.local(model) and not second.local(on_val)

    entry = second.ledger.file(second.path(model))
    doc = json.loads(entry.read_text())
    assert set(doc["weights"]) == {"checkpoint.pt"} and doc["record"]["kind"] == "source_only"
    doc["weights"]["checkpoint.pt"] = "0" * 16                               # as if another CPU had trained it
    entry.write_text(json.dumps(doc))
    shutil.rmtree(second.path(model))
    with pytest.warns(UserWarning, match="differs from the ledger's.*the weights of checkpoint.pt"):
        second.files(model)


def test_the_ledger_check_compares_results_not_times():
    from thesislib.runs.ledger import compare
    saved = {"miou": 30.0, "train_seconds": 900.0, "rounds": [{"miou": 31.0, "per_class": {"road": 80.0}}]}
    assert compare(saved, {**saved, "train_seconds": 950.0, "run_dir": "/elsewhere"}) == []
    assert compare(saved, {**saved, "rounds": [{"miou": 31.5, "per_class": {"road": 80.0}}]}) == ["rounds.0.miou: 31.0 -> 31.5"]


def test_a_sitting_computes_a_part_of_the_plan_into_the_ledger_and_refuses_fields_that_change_results(tmp_path, capsys):
    from thesislib.__main__ import main
    where = ["--profile", "smoke", "--build-dir", str(tmp_path), "--ledger-dir", str(tmp_path / "ledger")]
    assert main(["ledger", *where, "--notebooks", "05", "steps=3"]) == 2
    assert "changes its stages" in capsys.readouterr().err
    assert main(["ledger", *where, "--notebooks", "02", "--seeds", "0"]) == 0
    assert "1 stage added" in capsys.readouterr().out
    assert [f.name.split("-")[0] for f in (tmp_path / "ledger" / "smoke").glob("*.json")] == ["cyclegan"]


def load_script(name: str):
    """A module of scripts/ (they are not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_ledger_entry(lab, stage, metrics: dict) -> None:
    """A ledger entry holding only `metrics`, as if an earlier sitting had computed the stage."""
    f = lab.ledger.file(lab.path(stage))
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"metrics": metrics}))


def test_the_next_sittings_cost_counts_the_models_it_trains_again_but_not_as_new(tmp_path):
    sitting = load_script("next_sitting")
    where = {"build_dir": tmp_path / "build", "ledger_dir": tmp_path / "ledger"}
    new, total = sitting.cost("smoke", where["build_dir"], ("06",), (0,), None, where["ledger_dir"])
    assert new == total > 0
    lab = Lab("smoke", compute=False, **where)
    known = [S("cyclegan", seed=0), S("translated", seed=0)]          # finished in an earlier sitting
    for stage in known:
        write_ledger_entry(lab, stage, {})
    retrained = sum(KINDS[s.kind].cost(s, lab.profile) for s in known)
    assert sitting.cost("smoke", where["build_dir"], ("06",), (0,), None, where["ledger_dir"]) == (
        round(total - retrained), total)


def test_the_ledgers_partial_results_pair_the_seeds_it_holds_with_their_interval(tmp_path):
    """scripts/ledger_results.py: the rows the ledger holds, per seed, and each paired difference over the seeds
    both rows have, with its 95 % t interval (a finding only when it excludes 0); rows it lacks are left out."""
    results = load_script("ledger_results")
    lab = Lab("smoke", compute=False, build_dir=tmp_path / "build", ledger_dir=tmp_path / "ledger",
              overrides={"seeds": (0, 1, 2)})
    rows = plan.self_training_table(lab.profile)
    for row, mious in (("self_training", (30.0, 31.0, 33.0)), ("control", (28.0, 28.5, 29.5))):
        for seed, miou in enumerate(mious):
            write_ledger_entry(lab, rows[row][seed], {"miou": miou})
    text = results.summary(results.known_rows(lab, rows), results.ST_DIFFERENCES)
    assert "| self_training | 30.00 | 31.00 | 33.00 | 31.33 |" in text
    assert "| self_training − control | +2.67 [0.77, 4.56] | 3 | yes |" in text     # t(2) = 4.303, sd 0.764
    assert "teacher" not in text and "empty_stream" not in text


def test_the_ledgers_train_seconds_are_each_chapter_6_rows_model_per_seed(tmp_path):
    """scripts/ledger_results.py: the one-core seconds of the model behind each chapter-6 score the ledger holds."""
    results = load_script("ledger_results")
    lab = Lab("smoke", compute=False, build_dir=tmp_path / "build", ledger_dir=tmp_path / "ledger",
              overrides={"seeds": (0, 1)})
    row, per_seed = next(iter(results.data_dependency_rows(lab).items()))
    for seed, score in per_seed.items():
        write_ledger_entry(lab, score, {"miou": 30.0})
        write_ledger_entry(lab, score["model"], {"train_seconds": 1000.0 + seed})
    text = results.train_seconds(lab)
    assert f"| {row} | 1,000 | 1,001 |" in text and text.count("\n") == 2      # header, rule, the one row known


def test_the_ledgers_goals_wait_for_the_whole_table_then_judge_as_the_notebook_does(tmp_path):
    """scripts/ledger_results.py: chapter 5's goals only once every row of the self-training table is known; then
    the gap closed (self-training's share of source only -> oracle), the learned classes that drop over 3 IoU, and
    the classes' gains split by how precise their pseudo-labels were."""
    results = load_script("ledger_results")
    lab = Lab("smoke", compute=False, build_dir=tmp_path / "build", ledger_dir=tmp_path / "ledger",
              overrides={"seeds": (0, 1)})
    rows = plan.self_training_table(lab.profile)
    miou = {"source_only": 20.0, "teacher": 26.0, "control": 26.5, "empty_stream": 27.0, "self_training": 30.0,
            "oracle": 40.0}
    iou = {"teacher": {"road": 50.0, "sky": 40.0, "rider": 5.0}, "self_training": {"road": 46.0, "sky": 39.0, "rider": 1.0}}
    for row in rows:
        for seed, stage in rows[row].items():
            if row != "oracle" or seed == 0:
                write_ledger_entry(lab, stage, {"miou": miou[row] + seed, "pixel_accuracy": 80.0,
                                                "iou": iou.get(row, iou["teacher"])})
    for score in rows["self_training"].values():                        # the student's pseudo-labels, per round
        write_ledger_entry(lab, score["model"],
                           {"rounds": [{"pseudo_labels": {"precision": {"road": 90.0, "sky": 80.0, "rider": 10.0}}}]})
    assert results.goals(lab) is None and results.gap_by_class(lab) is None     # seed 1's oracle is missing
    write_ledger_entry(lab, rows["oracle"][1], {"miou": 41.0, "pixel_accuracy": 90.0, "iou": iou["teacher"]})
    text = results.goals(lab)
    assert "| ≥ 42 % of the source-only → oracle gap closed (BDL on the real task) | 50 % | yes |" in text
    assert "loses more than 3 IoU | road | no |" in text               # rider drops 4 but was never learned
    assert "| student − teacher ≥ 4 mIoU | +4.0 [4.0, 4.0] | yes |" in text
    by_class = results.gap_by_class(lab)                                # the oracle's IoU is the teacher's here
    assert "| rider | 5.0 | 5.0 | 1.0 | 5.0 | 10.0 |" in by_class
    assert "The 1 classes under 50 % precise hold 44 % of the gap left" in by_class      # 4 of the 9 IoU left
    assert "| self_training | -4.00 [-4.00, -4.00] | -2.50 [-2.50, -2.50] |" in by_class
    assert "| entropy |" not in by_class                                # chapter 4's rows the ledger lacks


def test_the_ledgers_chapter_6_pairs_rows_at_the_same_labeled_share_by_seed(tmp_path):
    """scripts/ledger_results.py, chapter 6: each row at each labeled share, and notebook 06's differences only
    between rows of one share that the ledger holds, paired by seed."""
    results = load_script("ledger_results")
    lab = Lab("smoke", compute=False, build_dir=tmp_path / "build", ledger_dir=tmp_path / "ledger",
              overrides={"seeds": (0, 1)})
    f = min(lab.profile.fractions)
    rows = plan.data_dependency(lab.profile)
    for row, miou in (("labeled_only", 30.0), ("joint", 33.0)):
        for seed, stage in rows[(row, f)].items():
            write_ledger_entry(lab, stage, {"miou": miou + 2 * seed * (row == "joint"), "pixel_accuracy": 80.0})
    text = results.data_dependency(lab)
    share = fraction_label(f)
    assert f"| joint @ {share} | 33.00 | 35.00 | 34.00 |" in text
    assert f"| joint @ {share} − labeled_only @ {share} | +4.00 [-8.71, 16.71] | 2 | no |" in text
    assert "finetuned @" not in text and text.count(" − ") == 1          # rows the ledger lacks: no line


def test_every_sitting_left_covers_the_plan_once_and_leaves_the_ledger_alone(tmp_path):
    """`next_sitting.py --all`: sittings chosen greedily, each new machine training its inputs again, add up to the
    whole plan's new images; the simulation writes only to a scratch copy of the ledger."""
    sitting = load_script("next_sitting")
    profile = Lab("smoke", compute=False, build_dir=tmp_path / "build").profile
    where = (tmp_path / "build", ("03", "04", "05", "06"), profile.seeds, tuple(profile.fractions), tmp_path / "ledger")
    new, total = sitting.cost("smoke", *where)
    hours = 0.8 * cpu_hours(total, 50.0)                                       # the whole plan does not fit one
    sittings = sitting.every_sitting(profile, 50.0, hours, tmp_path / "ledger")
    assert len(sittings) >= 2 and sum(s[0] for s in sittings) == new
    assert all(cpu_hours(s[1], 50.0) <= hours for s in sittings) and any(s[1] > s[0] for s in sittings)
    assert not (tmp_path / "ledger").exists() and sitting.cost("smoke", *where) == (new, total)
