"""Pseudo-labels from a teacher: predict the unlabeled pool, pick class-wise thresholds, write PNGs.

Two passes keep memory flat for any pool size: pass 1 writes each image's prediction and confidence
(uint8 PNGs) and a per-class confidence histogram; thresholds come from the histograms; pass 2 writes
the labels (255 = ignored). Only the labels stay on disk, except a teacher's pass 1 that several runs
share (`predictions=`). Thresholds: "confidence" (one global value), "cbst" (keep the most
confident `portion` of each class's pixels, Zou et al. 2018), "bdl" (per-class median capped at 0.9,
Li et al. 2019).
"""
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thesislib import progress
from thesislib.data.labels import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from thesislib.inference import batches, on_device, predict_probs
from thesislib.io import atomic_write_json, writer_pool

BINS = 256  # confidences are stored as uint8 (conf * 255)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def class_thresholds(hist: np.ndarray, mode: str = "cbst", portion: float = 0.5, threshold: float = 0.9,
                     floor: float = 0.0) -> np.ndarray:
    """Per-class confidence thresholds in [0, 1] from (classes, 256) histograms of predicted pixels: "cbst"
    keeps each class's most confident `portion`, "bdl" its upper half (capped at `threshold`), "confidence"
    one global `threshold`, "none" every pixel (DACS / DAFormer, with per-image weights); none below `floor`."""
    if mode == "confidence":
        return np.full(len(hist), max(threshold, floor))
    if mode == "none":
        return np.full(len(hist), floor)
    if mode not in ("cbst", "bdl"):
        raise ValueError(f"unknown threshold mode {mode!r}: use cbst, bdl, confidence or none")
    q = 1 - portion if mode == "cbst" else 0.5
    thr = np.ones(len(hist))
    for c, h in enumerate(hist):
        if h.sum() == 0:
            continue
        cdf = np.cumsum(h) / h.sum()
        thr[c] = np.searchsorted(cdf, q) / (BINS - 1)
    thr = np.minimum(thr, threshold) if mode == "bdl" else thr
    return np.maximum(thr, floor)


@torch.no_grad()
def predict_pool(model, pool, out: Path, device, flip=True, batch_size=32, num_workers=0,
                 precision: str = "fp32") -> np.ndarray:
    """Pass 1: out/pred/<name>, out/conf/<name> PNGs and out/hist.npy, the (classes, 256) confidence
    histograms (returned). Written atomically; a complete `out` is reused, so the runs that share a
    teacher and a pool (the labeled fractions) predict it once. Workers decode, a thread pool writes."""
    out = Path(out)
    if (out / "hist.npy").exists():
        return np.load(out / "hist.npy")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model = on_device(model, device)
    hist = np.zeros((NUM_CLASSES, BINS), dtype=np.int64)
    shown = progress.bar(out.parent, total=len(pool), task="teacher predictions" if out.parent.name[:5] != "round"
                         else "pseudo-labels")
    with writer_pool() as write:
        for images, _, names in batches(pool, batch_size, device, num_workers):
            shown.update(len(names))
            conf, pred = predict_probs(model, images, flip, precision).max(1)
            conf_u8 = (conf * (BINS - 1)).round().to(torch.uint8)
            hist += torch.bincount(pred.flatten() * BINS + conf_u8.flatten().long(),
                                   minlength=NUM_CLASSES * BINS).reshape(NUM_CLASSES, BINS).cpu().numpy()
            for n, p, c in zip(names, pred.to(torch.uint8).cpu().numpy(), conf_u8.cpu().numpy()):
                write(_png, tmp / "pred" / n, p)
                write(_png, tmp / "conf" / n, c)
    shown.close()
    np.save(tmp / "hist.npy", hist)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return hist


CONFIDENT = 0.968     # DACS / DAFormer: an image's pseudo-labels weigh the share of its pixels this confident


def _label_one(pool, i: int, predictions: Path, out: Path, thr_u8: np.ndarray, ground_truth, bottom: float,
               image_weighting: bool, true_labels: bool = False):
    """Pass 2 for pool item i: write its label PNG (and weight PNG); returns (its (4, classes) quality
    counts or None, its image weight)."""
    name, gt = pool_mask(pool, i)
    if name in ground_truth:
        _png(out / "labels" / name, gt.astype(np.uint8))
        if image_weighting:
            _png(out / "weights" / name, np.full(gt.shape, 255, np.uint8))
        return None, 1.0
    pred = np.array(Image.open(predictions / "pred" / name))
    conf = np.array(Image.open(predictions / "conf" / name))
    label = np.where(conf >= thr_u8[pred], pred, IGNORE_INDEX).astype(np.uint8)
    rows = label.shape[0] - round(bottom * label.shape[0])
    label[rows:] = IGNORE_INDEX                        # the ego vehicle's bonnet: never pseudo-labeled
    if true_labels and gt is not None:                 # a diagnostic: the true class at every selected pixel
        label = np.where(label != IGNORE_INDEX, gt, IGNORE_INDEX).astype(np.uint8)
    q = float(np.mean(conf[:rows] >= round(CONFIDENT * (BINS - 1)))) if image_weighting else 1.0
    _png(out / "labels" / name, label)
    if image_weighting:
        _png(out / "weights" / name, np.where(label != IGNORE_INDEX, round(255 * q), 0).astype(np.uint8))
    if gt is None:                                       # an unlabeled split: nothing to score
        return None, q
    valid = gt != IGNORE_INDEX
    sel = (label != IGNORE_INDEX) & valid
    count = lambda a: np.bincount(a, minlength=NUM_CLASSES)[:NUM_CLASSES]  # noqa: E731
    return np.stack([count(label[sel & (label == gt)]), count(label[sel]), count(gt[valid]), count(gt[sel])]), q


def pool_mask(pool, i: int) -> tuple[str, np.ndarray | None]:
    """(name, train-id mask at the working resolution, None if unlabeled) of item i of a (concatenation
    of) set(s), without decoding its image."""
    for part in getattr(pool, "datasets", [pool]):
        if i < len(part):
            return part.names[i], part.mask(i) if part.pairs[i].labeled else None
        i -= len(part)
    raise IndexError(i)


def label_pool(pool, predictions: Path, out: Path, thresholds: np.ndarray, ground_truth: set[str] = frozenset(),
               bottom: float = 0.0, image_weighting: bool = False, class_weights=None, true_labels: bool = False) -> dict:
    """Pass 2: out/labels/<name> = prediction where conf >= its class threshold, else 255 (and the bottom
    `bottom` share of the rows); with `image_weighting`, out/weights/<name> holds each image's weight.

    Images named in `ground_truth` (a labeled target fraction) get their true labels instead.
    Returns pseudo-label quality on the pool images that have labels (not in `ground_truth`):
    per-class precision and coverage (share of the class's true pixels that got any pseudo-label), and
    the precision weighted as the student's loss weighs each pixel (its class weight, its image weight).
    `true_labels` (a diagnostic, never a method) puts the true class on every selected pixel. It does not
    isolate precision: it corrects exactly the pixels the teacher got wrong, so it measures what partial true
    target labels at the selected pixels give (about S+T with a few labeled images), not a better teacher.
    """
    thr_u8 = np.ceil(np.asarray(thresholds) * (BINS - 1)).astype(np.int64)
    with ThreadPoolExecutor(os.cpu_count() or 1) as threads:       # PNG decoding and encoding free the GIL
        done = list(threads.map(lambda i: _label_one(pool, i, predictions, out, thr_u8, ground_truth, bottom,
                                                     image_weighting, true_labels), range(len(pool))))
    scored = [(c, q) for c, q in done if c is not None]
    tp, kept, gt_px, covered = np.sum([c for c, _ in scored], axis=0) if scored else np.zeros((4, NUM_CLASSES), np.int64)
    cw = np.ones(NUM_CLASSES) if class_weights is None else np.asarray(class_weights, dtype=float)
    tp_w, kept_w = (sum(q * c[:2] for c, q in scored) if scored else np.zeros((2, NUM_CLASSES))) * cw
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, coverage = tp / kept, covered / gt_px
    pct = lambda a: {n: (None if np.isnan(v) else round(100 * float(v), 3)) for n, v in zip(CLASS_NAMES, a)}  # noqa
    return {"precision": pct(precision), "coverage": pct(coverage),
            "overall_precision": round(100 * tp.sum() / max(kept.sum(), 1), 3),
            # every class counts once: the pixel precision hides the rare classes whose pseudo-labels are wrong
            "class_mean_precision": round(100 * float(np.nanmean(precision)), 3) if (kept > 0).any() else None,
            "overall_coverage": round(100 * covered.sum() / max(gt_px.sum(), 1), 3),
            "loss_weighted_precision": round(100 * tp_w.sum() / max(kept_w.sum(), 1e-12), 3),
            "mean_image_weight": round(float(np.mean([q for _, q in done])), 4) if done else None,
            "thresholds": {n: round(float(t), 4) for n, t in zip(CLASS_NAMES, thresholds)}}


def make_pseudo_labels(model, pool, out, device, mode="cbst", portion=0.5, threshold=0.9, flip=True,
                       ground_truth: set[str] = frozenset(), batch_size=32, predictions=None, num_workers=0,
                       floor: float = 0.0, bottom: float = 0.0, image_weighting: bool = False,
                       class_weights=None, true_labels: bool = False, precision: str = "fp32") -> dict:
    """Teacher -> out/labels (uint8 train-id PNGs, 255 ignored; out/weights with `image_weighting`) +
    out/quality.json, atomically (see `class_thresholds` and `label_pool` for the options).

    predictions: where the teacher's pass 1 goes (shared by runs of the same teacher and pool, kept);
    None: out/../<out>.teacher, deleted once the labels exist (only labels/ stays on disk)."""
    out = Path(out)
    if (out / "quality.json").exists():
        return json.loads((out / "quality.json").read_text())
    shared = predictions is not None
    predictions = Path(predictions) if shared else out.with_name(out.name + ".teacher")
    hist = predict_pool(model, pool, predictions, device, flip, batch_size, num_workers, precision)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    quality = label_pool(pool, predictions, tmp, class_thresholds(hist, mode, portion, threshold, floor),
                         set(ground_truth), bottom, image_weighting, class_weights, true_labels)
    quality.update(mode=mode, portion=portion, threshold=threshold, floor=floor, bottom=bottom,
                   image_weighting=image_weighting, images=len(pool))
    atomic_write_json(tmp / "quality.json", quality)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    if not shared:
        shutil.rmtree(predictions)
    return quality
