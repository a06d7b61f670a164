"""The numbers are comparable with the literature: ImageNet init from the torch cache, scoring at the
labels' own resolution, and predictions the unmodified official Cityscapes evaluator scores the same."""
import json
import os
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from thesislib.__main__ import main as cli
from thesislib.methods.common import load_segmenter, target_set
from thesislib.models.segmentation import WeightsMissing, build_segmenter, imagenet_weights_file
from thesislib.profiles import get_profile
from thesislib.runs.scoring import evaluate
from thesislib.tools.world import write_world

SMOKE = get_profile("smoke")


@pytest.fixture
def torch_cache(tmp_path, monkeypatch):
    """An empty torch cache of our own ($TORCH_HOME), and no network: a download attempt fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, *a, **kw):
        raise urllib.error.URLError("no network in this test")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_imagenet_weights_are_read_from_the_torch_cache(torch_cache):
    url, path = imagenet_weights_file("resnet18")
    assert path == torch_cache / "resnet18-f37072fd.pth" and url.endswith("/resnet18-f37072fd.pth")
    weights = torchvision.models.resnet18().state_dict()           # a stand-in file with the real keys
    path.parent.mkdir(parents=True)
    torch.save(weights, path)
    seg = build_segmenter("resnet18", encoder_weights="imagenet", decoder_channels=16)
    for key in ("conv1.weight", "layer4.1.bn2.running_var", "layer2.0.downsample.0.weight"):
        assert torch.equal(seg.net.encoder.state_dict()[key], weights[key])
    scratch = build_segmenter("resnet18", encoder_weights=None, decoder_channels=16)
    assert not torch.equal(scratch.net.encoder.conv1.weight, weights["conv1.weight"])


def test_missing_imagenet_weights_explain_themselves(torch_cache, tmp_path, capsys):
    with pytest.raises(WeightsMissing) as err:
        build_segmenter("resnet50", encoder_weights="imagenet", decoder_channels=16)
    msg = str(err.value)
    assert str(torch_cache / "resnet50-0676ba61.pth") in msg and "encoder_weights=none" in msg
    assert "IMAGENET1K_V1" in msg
    # the same message from the command line, without a traceback, for the paper profile's default
    world = tmp_path / "w"
    write_world(world, "smoke", progress=False)
    code = cli(["train", "source_only", "--data-root", str(world), "--profile", "smoke", "--out", str(tmp_path / "r"),
                "encoder=resnet50", "encoder_weights=imagenet"])
    assert code == 2 and "resnet50-0676ba61.pth" in capsys.readouterr().err
    assert get_profile("paper").encoder_weights == "imagenet"
    assert get_profile("paper", encoder_weights="none").encoder_weights is None


def test_scores_at_the_labels_own_resolution(tmp_path):
    world = tmp_path / "w"
    write_world(world, "smoke", progress=False)                    # labels at world_hw, model at image_hw
    assert SMOKE.world_hw != SMOKE.image_hw
    model = build_segmenter("resnet18", decoder_channels=16)
    val = target_set(world, SMOKE, "val", native_labels=True)
    item = val[0]
    assert tuple(item["image"].shape[-2:]) == SMOKE.image_hw and tuple(item["mask"].shape) == SMOKE.world_hw
    result = evaluate(model, val, torch.device("cpu"), batch_size=3)
    assert result["eval_hw"] == list(SMOKE.world_hw) and result["input_hw"] == list(SMOKE.image_hw)
    assert "label resolution" in result["protocol"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    write_world(root / "world", "smoke", progress=False)
    run = root / "run"
    assert cli(["train", "oracle", "--data-root", str(root / "world"), "--profile", "smoke", "--out", str(run),
                "steps=4", "progress=false"]) == 0
    return root, run


def test_predictions_pass_the_official_evaluator_with_the_same_miou(trained, tmp_path):
    root, run = trained
    world = root / "world"
    out = tmp_path / "pred"
    assert cli(["predict", str(run), "--data-root", str(world), "--split", "val", "--out", str(out)]) == 0
    gt = sorted((world / "cityscapes" / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    files = sorted((out / "labelIds").iterdir())
    assert [f.name for f in files] == sorted(p.name.replace("_gtFine_labelIds", "_leftImg8bit") for p in gt)
    assert Image.open(files[0]).size == Image.open(gt[0]).size              # the label's full resolution
    assert len(list((out / "color").iterdir())) == len(files)
    # the scorer (the stage that scores every model of the tables) gives the same mIoU as the predictions
    ours = evaluate(load_segmenter(run / "checkpoint.pt", SMOKE, torch.device("cpu")),
                    target_set(world, SMOKE, "val", native_labels=True), torch.device("cpu"))
    assert json.loads((out / "metrics.json").read_text())["miou"] == pytest.approx(ours["miou"], abs=1e-6)
    # the unmodified official evaluator, run as its README says
    env = {**os.environ, "CITYSCAPES_DATASET": str(world / "cityscapes"), "CITYSCAPES_RESULTS": str(out / "labelIds"),
           "CITYSCAPES_EXPORT_DIR": str(tmp_path)}
    evaluator = shutil.which("csEvalPixelLevelSemanticLabeling", path=str(Path(sys.executable).parent))
    done = subprocess.run([evaluator], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    official = json.loads((tmp_path / "resultPixelLevelSemanticLabeling.json").read_text())
    assert 100 * official["averageScoreClasses"] == pytest.approx(ours["miou"], abs=0.01)


def test_unlabeled_split_is_predicted_at_the_image_resolution(trained, tmp_path):
    root, run = trained
    out = tmp_path / "extra"
    assert cli(["predict", str(run), "--data-root", str(root / "world"), "--split", "train_extra", "--out", str(out)]) == 0
    first = sorted((out / "labelIds").iterdir())[0]
    assert np.asarray(Image.open(first)).shape == SMOKE.world_hw and not (out / "metrics.json").exists()


def test_predict_on_a_folder_without_a_run_says_so(tmp_path, capsys):
    assert cli(["predict", str(tmp_path), "--data-root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no finished run here" in capsys.readouterr().err
