"""Every method trains end to end at the smoke profile on the embedded world; resume after kill -9."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from thesislib.data.check import check_data
from thesislib.data.stream import step_loader
from thesislib.methods import self_training
from thesislib.methods.adversarial import train_adversarial
from thesislib.methods.common import load_segmenter, target_set
from thesislib.methods.cyclegan import train_cyclegan
from thesislib.methods.entropy import train_entropy
from thesislib.methods.fda import fda_source_to_target, train_fda
from thesislib.methods.self_training import SelfTraining, train_self_training
from thesislib.methods.supervised import train_supervised
from thesislib.profiles import get_profile
from thesislib.runs.scoring import evaluate
from thesislib.tools.world import write_world

SMOKE = get_profile("smoke")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    write_world(root, "smoke", seed=0, progress=False)
    check_data("gta5", root / "gta5", progress=False)
    check_data("cityscapes", root / "cityscapes", progress=False)
    return root


@pytest.fixture(scope="module")
def translated(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("cyclegan")
    metrics = train_cyclegan(world, out, SMOKE, progress=False)
    return out, metrics


def _valid(world, checkpoint):
    """The scores of a trained model on target val (training never scores itself: thesislib.runs.scoring does)."""
    val = evaluate(load_segmenter(checkpoint, SMOKE, CPU), target_set(world, SMOKE, "val", native_labels=True), CPU)
    assert 0 <= val["miou"] <= 100 and 0 <= val["pixel_accuracy"] <= 100
    assert len(val["iou"]) == 19
    return val


@pytest.fixture(scope="module")
def teacher(world, translated, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    train_supervised(world, out, SMOKE, source_root=translated[0] / "translated", progress=False)
    return out / "checkpoint.pt"


def test_supervised_source_only_and_oracle(world, tmp_path):
    train_supervised(world, tmp_path / "src", SMOKE, source="gta5", progress=False)
    train_supervised(world, tmp_path / "ora", SMOKE, source="cityscapes", fraction=0.5, class_weighting=False,
                     progress=False)
    for d in ("src", "ora"):
        _valid(world, tmp_path / d / "checkpoint.pt")
        assert {"metrics.json", "config.json", "log.jsonl", "checkpoint.pt"} <= set(os.listdir(tmp_path / d))


def test_class_weighting_and_rare_class_sampling_run(world, tmp_path):
    train_supervised(world, tmp_path, SMOKE, class_weighting=True, rare_class_sampling=True, progress=False)
    _valid(world, tmp_path / "checkpoint.pt")


def test_class_balancing_uses_the_training_sets_own_labels(world, tmp_path):
    from thesislib.methods.common import class_weights_for, item_class_counts, subset_fraction, target_set
    train = target_set(world, SMOKE, "train", train=True)
    half = subset_fraction(train, 0.5)
    counts = item_class_counts(half, world / "cityscapes")
    assert counts.shape == (len(half), 19)
    assert counts.sum(0).tolist() != item_class_counts(train, world / "cityscapes").sum(0).tolist()
    w = class_weights_for(half, world / "cityscapes", True)
    assert w.shape == (19,) and abs(float(w.mean()) - 1) < 1e-5
    train_supervised(world, tmp_path, SMOKE, source="cityscapes", fraction=0.5, class_weighting=True,
                     rare_class_sampling=True, progress=False)           # the oracle can balance classes too
    _valid(world, tmp_path / "checkpoint.pt")


def test_adaptation_from_the_teacher_starts_from_its_weights(world, translated, tmp_path):
    """With lr 0 an adapted model keeps its start: the teacher's parameters, not a fresh init."""
    root = translated[0] / "translated"
    teacher = train_supervised(world, tmp_path / "teacher", SMOKE, source_root=root, progress=False)
    frozen = get_profile("smoke", lr=0.0)
    train_entropy(world, tmp_path / "ent", frozen, source_root=root, init=tmp_path / "teacher" / "checkpoint.pt",
                  split_batch=True, progress=False)
    config = json.loads((tmp_path / "ent" / "config.json").read_text())
    assert config["batch_sizes"] == [SMOKE.batch_size // 2] * 2 and config["init"].endswith("checkpoint.pt")
    start = torch.load(tmp_path / "teacher" / "checkpoint.pt", weights_only=True)["modules"]["seg"]
    end = torch.load(tmp_path / "ent" / "checkpoint.pt", weights_only=True)["modules"]["seg"]
    weights = [k for k in start if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert weights and all(torch.equal(start[k], end[k]) for k in weights)
    assert teacher["steps"] == SMOKE.steps


def test_cyclegan_translates_the_source_set_in_gta5_layout(world, translated):
    out, metrics = translated
    images = sorted(os.listdir(out / "translated" / "images"))
    assert images == sorted(os.listdir(world / "gta5" / "images"))
    assert sorted(os.listdir(out / "translated" / "labels")) == images
    assert (out / "translated" / "thesislib-check.json").exists()
    log = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert {"G_A", "cycle_A", "idt_A", "D_A"} <= set(log[0])
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert len(ckpt["extra"]["fake_B_pool"]["images"]) > 0          # the image pool is checkpointed


def test_adaptation_methods_train(world, translated, tmp_path):
    root = translated[0] / "translated"
    train_fda(world, tmp_path / "fda", SMOKE, progress=False)
    _valid(world, tmp_path / "fda" / "checkpoint.pt")
    for level in ("output", "feature"):
        train_adversarial(world, tmp_path / level, SMOKE, level=level, source_root=root, progress=False)
        _valid(world, tmp_path / level / "checkpoint.pt")
        log = json.loads((tmp_path / level / "log.jsonl").read_text().splitlines()[0])
        assert {"loss_seg", "loss_adv", "loss_D"} <= set(log)
    train_entropy(world, tmp_path / "ent", SMOKE, source_root=root, progress=False)
    _valid(world, tmp_path / "ent" / "checkpoint.pt")


def test_self_training_rounds_write_pseudo_labels_and_quality(world, translated, teacher, tmp_path):
    root = translated[0] / "translated"
    summary = train_self_training(world, tmp_path, SMOKE, 0, root, teacher, progress=False)
    assert [r["round"] for r in summary["rounds"]] == [1, 2]
    assert [r["real_share"] for r in summary["rounds"]] == list(SMOKE.st_real_share)
    q = summary["rounds"][0]["pseudo_labels"]
    assert 0 <= q["overall_precision"] <= 100 and set(q["precision"]) == set(q["coverage"])
    assert 0 <= q["loss_weighted_precision"] <= 100
    labels = list((tmp_path / "round1" / "pseudo" / "labels").rglob("*.png"))
    assert len(labels) == SMOKE.n_train                               # pool: target train (smoke st_pool)
    bottom = round(SMOKE.st_ignore_bottom * SMOKE.image_hw[0])        # the ego vehicle's rows: never pseudo-labeled
    assert all((np.asarray(Image.open(p))[-bottom:] == 255).all() for p in labels)
    log = [json.loads(l) for l in (tmp_path / "round1" / "log.jsonl").read_text().splitlines()]
    assert {"loss_stream0", "loss_stream1"} <= set(log[0])             # the loss averaged per stream
    _valid(world, tmp_path / "round2" / "checkpoint.pt")


def test_the_control_trains_the_same_student_without_pseudo_labels(world, translated, teacher, tmp_path, monkeypatch):
    calls = []

    def recording_step_loader(datasets, counts, *args, **kw):
        calls.append(counts)
        return step_loader(datasets, counts, *args, **kw)

    monkeypatch.setattr(self_training, "step_loader", recording_step_loader)
    control = SelfTraining(real_share=(0.0, 0.0))
    summary = train_self_training(world, tmp_path, SMOKE, 0, translated[0] / "translated", teacher, control,
                                  progress=False)
    assert calls == [[SMOKE.batch_size]] * 2 and all(r["pseudo_labels"] is None for r in summary["rounds"])
    assert not (tmp_path / "round1" / "pseudo").exists()


def test_semi_supervised_student_draws_labeled_images_every_batch(world, translated, teacher, tmp_path, monkeypatch):
    calls = []

    def recording_step_loader(datasets, counts, *args, **kw):
        calls.append(([len(d) for d in datasets], counts))
        return step_loader(datasets, counts, *args, **kw)

    monkeypatch.setattr(self_training, "step_loader", recording_step_loader)
    with pytest.raises(ValueError, match="labeled_share"):
        SelfTraining(labeled_fraction=0.5, labeled_share=1.0).resolved(SMOKE)
    train_self_training(world, tmp_path, SMOKE, 0, translated[0] / "translated", teacher,
                        SelfTraining(rounds=1, labeled_fraction=0.5, labeled_share=0.5), progress=False)
    sizes, counts = calls[0]
    b = SMOKE.batch_size
    assert sizes[2] == round(0.5 * SMOKE.n_train) and counts[2] == b // 2   # the labeled stream
    assert counts == [b - b // 2, b, b // 2]                  # the labeled batch stays whole, pseudo-labels on top
    target_only = SelfTraining(rounds=1, labeled_fraction=0.5, source=False)
    train_self_training(world, tmp_path / "t", SMOKE, 0, None, teacher, target_only, progress=False)
    sizes, counts = calls[-1]
    assert counts == [b, b // 2]                               # pseudo-labeled + labeled, no source
    _valid(world, tmp_path / "round1" / "checkpoint.pt")


def test_self_training_and_its_controls_see_the_same_labeled_batches():
    st = SelfTraining(real_share=(0.3, 0.6)).resolved(SMOKE)
    control = SelfTraining(real_share=(0.0, 0.0)).resolved(SMOKE)
    empty = SelfTraining(real_share=(0.3, 0.6), empty_stream=True).resolved(SMOKE)
    b = SMOKE.batch_size
    for k in (1, 2):
        assert st.batch(SMOKE, k) == empty.batch(SMOKE, k) == (b, b, 0) and control.batch(SMOKE, k) == (b, 0, 0)
    assert st.shares(st.batch(SMOKE, 1), 1) == [1.0, pytest.approx(0.3 / 0.7)]   # the pseudo stream: 30 % of the loss
    assert st.shares(st.batch(SMOKE, 2), 2) == [1.0, pytest.approx(1.5)]
    assert empty.shares(empty.batch(SMOKE, 2), 2) == [1.0, 0.0]               # every pseudo-label ignored
    assert control.shares(control.batch(SMOKE, 1), 1) == [1.0]
    with pytest.raises(ValueError, match="real_share"):
        SelfTraining(real_share=(0.5, 1.0)).resolved(SMOKE)


def test_every_seed_and_round_draws_its_own_batches():
    seeds = [self_training.round_seed(s, k) for s in range(5) for k in range(1, 4)]
    assert len(set(seeds)) == len(seeds)


def test_empty_stream_control_trains_on_the_same_batches_without_their_labels(world, translated, teacher, tmp_path,
                                                                              monkeypatch):
    calls = []

    def recording_step_loader(datasets, counts, *args, **kw):
        calls.append(counts)
        return step_loader(datasets, counts, *args, **kw)

    monkeypatch.setattr(self_training, "step_loader", recording_step_loader)
    root = translated[0] / "translated"
    train_self_training(world, tmp_path / "e", SMOKE, 0, root, teacher, SelfTraining(rounds=1, empty_stream=True),
                        progress=False)
    log = [json.loads(l) for l in (tmp_path / "e" / "round1" / "log.jsonl").read_text().splitlines()]
    assert calls == [[SMOKE.batch_size, SMOKE.batch_size]]
    assert all(r["loss"] == pytest.approx(r["loss_stream0"], rel=1e-5) for r in log)  # the pseudo stream weighs 0
    assert any(r["loss_stream1"] > 0 for r in log)                                     # ... though it has labels


def test_fda_swaps_only_low_frequencies():
    g = torch.Generator().manual_seed(0)
    src, trg = torch.rand(2, 3, 32, 64, generator=g), torch.rand(2, 3, 32, 64, generator=g) + 1.0
    out = fda_source_to_target(src, trg, beta=0.05)
    assert out.mean() == pytest.approx(trg.mean().item(), abs=1e-3)        # the DC term comes from the target
    hi = lambda x: x - torch.nn.functional.avg_pool2d(x, 5, 1, 2)  # noqa: E731
    assert torch.allclose(hi(out)[..., 4:-4, 4:-4], hi(src)[..., 4:-4, 4:-4], atol=0.15)


def _cli(world, out, steps):
    return [sys.executable, "-m", "thesislib", "train", "source_only", "--data-root", str(world), "--profile", "smoke",
            "--out", str(out), f"steps={steps}", "ckpt_every=4"]


def test_kill_9_then_rerun_gives_the_same_metrics(world, tmp_path):
    steps = 40
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    subprocess.run(_cli(world, tmp_path / "full", steps), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_cli(world, tmp_path / "killed", steps), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists()             # it really died mid-run
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < killed_at < steps
    subprocess.run(_cli(world, tmp_path / "killed", steps), check=True, env=env, capture_output=True)
    full = json.loads((tmp_path / "full" / "val" / "metrics.json").read_text())
    resumed = json.loads((tmp_path / "killed" / "val" / "metrics.json").read_text())
    assert resumed["miou"] == full["miou"] and resumed["iou"] == full["iou"]
