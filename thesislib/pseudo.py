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
from thesislib.inference import batches, predict_probs
from thesislib.io import atomic_write_json, writer_pool

BINS = 256  # confidences are stored as uint8 (conf * 255)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def class_thresholds(hist: np.ndarray, mode: str = "cbst", portion: float = 0.5, threshold: float = 0.9) -> np.ndarray:
    """Per-class confidence thresholds in [0, 1] from (classes, 256) histograms of predicted pixels."""
    if mode == "confidence":
        return np.full(len(hist), threshold)
    if mode not in ("cbst", "bdl"):
        raise ValueError(f"unknown threshold mode {mode!r}: use confidence, cbst or bdl")
    q = 1 - portion if mode == "cbst" else 0.5
    thr = np.ones(len(hist))
    for c, h in enumerate(hist):
        if h.sum() == 0:
            continue
        cdf = np.cumsum(h) / h.sum()
        thr[c] = np.searchsorted(cdf, q) / (BINS - 1)
    return np.minimum(thr, threshold) if mode == "bdl" else thr


@torch.no_grad()
def predict_pool(model, pool, out: Path, device, flip=True, batch_size=32, num_workers=0) -> np.ndarray:
    """Pass 1: out/pred/<name>, out/conf/<name> PNGs and out/hist.npy, the (classes, 256) confidence
    histograms (returned). Written atomically; a complete `out` is reused, so the runs that share a
    teacher and a pool (the labeled fractions) predict it once. Workers decode, a thread pool writes."""
    out = Path(out)
    if (out / "hist.npy").exists():
        return np.load(out / "hist.npy")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.eval()
    hist = np.zeros((NUM_CLASSES, BINS), dtype=np.int64)
    shown = progress.bar(out.parent, total=len(pool), task="teacher predictions" if out.parent.name[:5] != "round"
                         else "pseudo-labels")
    with writer_pool() as write:
        for images, _, names in batches(pool, batch_size, device, num_workers):
            shown.update(len(names))
            conf, pred = predict_probs(model, images, flip).max(1)
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


def _label_one(pool, i: int, predictions: Path, out: Path, thr_u8: np.ndarray, ground_truth) -> np.ndarray | None:
    """Pass 2 for pool item i: write its label PNG; returns its (4, classes) quality counts, or None."""
    name, gt = pool_mask(pool, i)
    if name in ground_truth:
        _png(out / "labels" / name, gt.astype(np.uint8))
        return None
    pred = np.array(Image.open(predictions / "pred" / name))
    conf = np.array(Image.open(predictions / "conf" / name))
    label = np.where(conf >= thr_u8[pred], pred, IGNORE_INDEX).astype(np.uint8)
    _png(out / "labels" / name, label)
    if gt is None:                                       # an unlabeled split: nothing to score
        return None
    valid = gt != IGNORE_INDEX
    sel = (label != IGNORE_INDEX) & valid
    count = lambda a: np.bincount(a, minlength=NUM_CLASSES)[:NUM_CLASSES]  # noqa: E731
    return np.stack([count(label[sel & (label == gt)]), count(label[sel]), count(gt[valid]), count(gt[sel])])


def pool_mask(pool, i: int) -> tuple[str, np.ndarray | None]:
    """(name, train-id mask at the working resolution, None if unlabeled) of item i of a (concatenation
    of) set(s), without decoding its image."""
    for part in getattr(pool, "datasets", [pool]):
        if i < len(part):
            return part.names[i], part.mask(i) if part.pairs[i].labeled else None
        i -= len(part)
    raise IndexError(i)


def label_pool(pool, predictions: Path, out: Path, thresholds: np.ndarray, ground_truth: set[str] = frozenset()) -> dict:
    """Pass 2: out/labels/<name> = prediction where conf >= its class threshold, else 255.

    Images named in `ground_truth` (a labeled target fraction) get their true labels instead.
    Returns pseudo-label quality on the pool images that have labels (not in `ground_truth`):
    per-class precision and coverage (share of the class's true pixels that got any pseudo-label).
    """
    thr_u8 = np.ceil(np.asarray(thresholds) * (BINS - 1)).astype(np.int64)
    with ThreadPoolExecutor(4) as threads:
        counts = [c for c in threads.map(lambda i: _label_one(pool, i, predictions, out, thr_u8, ground_truth),
                                         range(len(pool))) if c is not None]
    tp, kept, gt_px, covered = np.sum(counts, axis=0) if counts else np.zeros((4, NUM_CLASSES), np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, coverage = tp / kept, covered / gt_px
    pct = lambda a: {n: (None if np.isnan(v) else round(100 * float(v), 3)) for n, v in zip(CLASS_NAMES, a)}  # noqa
    return {"precision": pct(precision), "coverage": pct(coverage),
            "overall_precision": round(100 * tp.sum() / max(kept.sum(), 1), 3),
            "overall_coverage": round(100 * covered.sum() / max(gt_px.sum(), 1), 3),
            "thresholds": {n: round(float(t), 4) for n, t in zip(CLASS_NAMES, thresholds)}}


def make_pseudo_labels(model, pool, out, device, mode="cbst", portion=0.5, threshold=0.9, flip=True,
                       ground_truth: set[str] = frozenset(), batch_size=32, predictions=None, num_workers=0) -> dict:
    """Teacher -> out/labels (uint8 train-id PNGs, 255 ignored) + out/quality.json, atomically.

    predictions: where the teacher's pass 1 goes (shared by runs of the same teacher and pool, kept);
    None: out/../<out>.teacher, deleted once the labels exist (only labels/ stays on disk)."""
    out = Path(out)
    if (out / "quality.json").exists():
        return json.loads((out / "quality.json").read_text())
    shared = predictions is not None
    predictions = Path(predictions) if shared else out.with_name(out.name + ".teacher")
    hist = predict_pool(model, pool, predictions, device, flip, batch_size, num_workers)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    quality = label_pool(pool, predictions, tmp, class_thresholds(hist, mode, portion, threshold), set(ground_truth))
    quality.update(mode=mode, portion=portion, threshold=threshold, images=len(pool))
    atomic_write_json(tmp / "quality.json", quality)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    if not shared:
        shutil.rmtree(predictions)
    return quality
