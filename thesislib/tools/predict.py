"""`thesislib predict RUN --data-root ROOT --split val --out DIR`: a trained run's predictions as
Cityscapes result files, which the official evaluator and the benchmark server read.

DIR/labelIds/<input name>.png: one label-id PNG per image at the resolution of its label (of the input
image for unlabeled splits), named after the input image (`frankfurt_000000_000294_leftImg8bit.png`);
DIR/color/: the same predictions in the Cityscapes palette over the image (kept apart: the evaluator
reads every PNG under the results folder). Score them with the unmodified official evaluator:

    CITYSCAPES_DATASET=ROOT/cityscapes CITYSCAPES_RESULTS=DIR/labelIds csEvalPixelLevelSemanticLabeling
"""
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from thesislib.data.labels import CLASS_IDS, colorize
from thesislib.engine import CHECKPOINT, default_device
from thesislib.inference import PROTOCOL, batches, predict_full
from thesislib.io import atomic_save_image, atomic_write_json, writer_pool
from thesislib.methods.common import load_segmenter, target_set
from thesislib.metrics import ConfusionMatrix
from thesislib.profiles import Profile, get_profile, loader_workers

TRAIN_TO_ID = np.full(256, 0, dtype=np.uint8)      # train id -> Cityscapes label id (255 -> 0, unlabeled)
TRAIN_TO_ID[:len(CLASS_IDS)] = CLASS_IDS


def run_checkpoint(run) -> Path:
    """The model of a run folder: its checkpoint, or a self-training run's last round's."""
    run = Path(run)
    rounds = sorted(run.glob("round[0-9]*/" + CHECKPOINT), key=lambda p: int(p.parent.name[5:]))
    path = run / CHECKPOINT if (run / CHECKPOINT).is_file() else (rounds[-1] if rounds else None)
    if path is None or not (run / "metrics.json").is_file():
        raise FileNotFoundError(f"{run}: no finished run here (expected metrics.json and {CHECKPOINT}, or round*/"
                                f"{CHECKPOINT}). Fix: pass the --out folder of `thesislib train`, or a stage folder "
                                "listed by `thesislib status`.")
    return path


def run_profile(run, name: str | None = None, **overrides) -> Profile:
    """The profile a run was trained with: from its stage.json (stage cache) or profile.json (`thesislib
    train`), else the named profile; `overrides` on top."""
    run = Path(run)
    for file in (run / "profile.json", run / "stage.json"):
        if file.is_file():
            doc = json.loads(file.read_text())
            saved = {**doc["profile"], "name": doc["profile_name"]} if file.name == "stage.json" else doc
            valid = {f.name for f in fields(Profile)}
            values = {k: v for k, v in saved.items() if k in valid}
            return get_profile(values.pop("name"), **{**values, **overrides})
    return get_profile(name or "default", **overrides)


def _write(pred: np.ndarray, image_path: Path, name: str, out: Path) -> None:
    atomic_save_image(Image.fromarray(TRAIN_TO_ID[pred]), out / "labelIds" / name)
    image = Image.open(image_path).convert("RGB").resize(pred.shape[::-1])
    atomic_save_image(Image.blend(image, Image.fromarray(colorize(pred)), 0.5), out / "color" / name)


@torch.no_grad()
def predict_split(run, data_root, split: str, out, profile: Profile | None = None, batch_size: int = 8,
                  flip: bool = False, progress: bool = True) -> dict:
    """Write the predictions of `run` on a Cityscapes split of `data_root` (see module doc); on a
    labeled split also score them (the same numbers as the run's metrics.json for val) into
    out/metrics.json. Returns {"images", "out", and the metrics when labeled}."""
    out, profile = Path(out), profile or run_profile(run)
    device = default_device()
    model = load_segmenter(run_checkpoint(run), profile, device)
    data = target_set(data_root, profile, split, native_labels=True)
    labeled = all(p.labeled for p in data.pairs)
    cm = ConfusionMatrix()
    with writer_pool(max_pending=4 * batch_size) as write:
        for images, masks, names in tqdm(batches(data, batch_size, device, num_workers=loader_workers(profile)),
                                         total=-(-len(data) // batch_size), desc=f"predict {split}",
                                         disable=not progress):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                preds = predict_full(model, images, [m.shape for m in masks], flip)
            for pred, mask, name in zip(preds, masks, names):
                if labeled:
                    cm.update(pred, mask)
                write(_write, pred.to(torch.uint8).cpu().numpy(), data.root / name, Path(name).name, out)
    result = {"images": len(data), "out": str(out), "protocol": PROTOCOL}
    if labeled:
        result.update(cm.summary())
        atomic_write_json(out / "metrics.json", result)
    return result
