"""`thesislib check-data KIND ROOT`: scan a dataset once, report its problems and write
ROOT/thesislib-check.json with the exclusion list (read by the loaders) and per-image class pixel
counts (read by rare-class sampling and class weighting)."""
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from thesislib.data import cityscapes, gta5
from thesislib.data.common import Pair, listing, open_label, read_check_file, size_mismatch
from thesislib.data.labels import ID_TO_TRAIN, NUM_CLASSES, VALID_IDS
from thesislib.io import atomic_write_json
from thesislib.paths import check_file

PROBLEMS = ("missing_partner", "unreadable", "size_mismatch")   # what excludes a pair


def _splits(kind: str, root: Path) -> dict[str, list[Pair]]:
    if kind == "gta5":
        return {"all": gta5.list_pairs(root)}
    if kind == "cityscapes":
        return {s: cityscapes.list_pairs(root, s) for s in cityscapes.present_splits(root)}
    raise ValueError(f"unknown dataset kind {kind!r}: use gta5 or cityscapes")


def _scan(pair: Pair) -> tuple[str | None, str | None, tuple | None, np.ndarray | None, dict]:
    """(problem, reason, image size, train-id pixel counts, {unknown label id: pixels}) of one pair,
    decoding both files fully. Pixels with ids outside the Cityscapes table count as ignored (255), as in
    ADVENT and DAFormer: the pair is kept."""
    if pair.image is None:
        return "missing_partner", pair.missing, None, None, {}
    size = None
    try:
        image = Image.open(pair.image)
        size = image.size
        if pair.labeled:                  # unlabeled images are not scored: the header is enough here
            image.load()
    except Exception as e:  # noqa: BLE001 - any PIL failure means unreadable
        return "unreadable", f"unreadable image: {e}", size, None, {}
    if pair.missing:
        return "missing_partner", pair.missing, size, None, {}
    if not pair.labeled:
        return None, None, size, None, {}
    try:
        label = open_label(pair.label)
        ids = np.array(label)
    except Exception as e:  # noqa: BLE001
        return "unreadable", f"unreadable label: {e}", size, None, {}
    if label.size != size:
        return "size_mismatch", size_mismatch(size, label.size), size, None, {}
    hist = np.bincount(ids.ravel(), minlength=256)
    unknown = {i: int(hist[i]) for i in sorted(set(np.flatnonzero(hist).tolist()) - VALID_IDS)}
    return None, None, size, np.bincount(ID_TO_TRAIN, weights=hist, minlength=256)[:NUM_CLASSES].astype(np.int64), unknown


def ensure_checked(data_root) -> None:
    """Write the check-data statistics of `data_root`/gta5 and `data_root`/cityscapes where they are missing
    (class balancing and rare-class sampling read them; a read-only root gets them under build/checks/)."""
    for kind in ("gta5", "cityscapes"):
        root = Path(data_root) / kind
        if not check_file(root).exists():
            check_data(kind, root, progress=False)


def check_data(kind: str, root, out=None, progress: bool = True, workers: int | None = None) -> dict:
    """Scan a `kind` ("gta5" or "cityscapes", all splits present) dataset at `root`; write the JSON to
    `out` (default ROOT/thesislib-check.json, or the build folder for a read-only root: see
    paths.check_file) atomically and return its content (plus "file").

    JSON: "summary" (splits, image sizes, problem counts), "excluded" ([{name, image, label, problem,
    reason}]: missing partner, unreadable file, size mismatch), "class_counts" ({name: 19 train-id pixel
    counts} of every usable labeled image) and "unknown_ids" ({name: {label id: pixels}} of the kept
    images whose labels hold ids outside the Cityscapes table; loaders read them as ignored, 255).
    `workers` threads (default: one per core) decode labeled pairs fully; images of unlabeled splits
    (test, train_extra) are checked from their headers only.
    Wrong root or layout: DataLayoutError."""
    root = Path(root)
    out = Path(out) if out is not None else check_file(root)
    splits = _splits(kind, root)
    sizes, excluded, counts, split_summary, unknown_ids = Counter(), [], {}, {}, {}
    total = sum(map(len, splits.values()))
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool, tqdm(total=total, desc=f"check-data {kind}", unit="img",
                                                   disable=not progress) as bar:
        for split, pairs in splits.items():
            n_excluded = 0
            for pair, (problem, reason, size, train_counts, unknown) in zip(pairs, pool.map(_scan, pairs)):
                if unknown:
                    unknown_ids[pair.name] = unknown
                if size:
                    sizes[f"{size[0]}x{size[1]}"] += 1
                if problem:
                    n_excluded += 1
                    image, label = (f and f.relative_to(root).as_posix() for f in (pair.image, pair.label))
                    excluded.append({"name": pair.name, "image": image, "label": label,
                                     "problem": problem, "reason": reason})
                elif train_counts is not None:
                    counts[pair.name] = train_counts.tolist()
                bar.update()
            split_summary[split] = {"images": sum(p.image is not None for p in pairs),
                                    "labeled": all(p.labeled for p in pairs), "excluded": n_excluded}
    by_problem = Counter(e["problem"] for e in excluded)
    summary = {"kind": kind, "root": str(root), "splits": split_summary, "image_sizes": dict(sizes.most_common()),
               "problems": {p: by_problem[p] for p in PROBLEMS}, "excluded": len(excluded),
               "unknown_ids": {"images": len(unknown_ids),
                               "pixels": sum(n for u in unknown_ids.values() for n in u.values())}}
    doc = {"summary": summary, "excluded": excluded, "class_counts": counts,
           "unknown_ids": {name: {str(i): n for i, n in u.items()} for name, u in unknown_ids.items()}}
    atomic_write_json(out, doc)
    return {**doc, "file": str(out)}


def load_class_counts(check_file) -> dict[str, np.ndarray]:
    """{item name: int64 array of 19 train-id pixel counts} from a check-data JSON."""
    doc = read_check_file(check_file)
    if doc is None:
        raise FileNotFoundError(f"{check_file}: no check-data statistics. "
                                "Fix: run `thesislib check-data KIND ROOT`.")
    return {name: np.asarray(c, dtype=np.int64) for name, c in doc["class_counts"].items()}


def report(result: dict) -> str:
    """The human-readable report of a check_data result."""
    s = result["summary"]
    lines = [f"{s['kind']} at {s['root']}: {sum(v['images'] for v in s['splits'].values())} images, "
             f"{s['excluded']} pair(s) excluded"]
    for split, v in s["splits"].items():
        kind = "labeled" if v["labeled"] else "unlabeled"
        lines.append(f"  {split:<12} {v['images']:>6} images ({kind}), {v['excluded']} excluded")
    lines.append("  image sizes: " + ", ".join(f"{k} x{n}" for k, n in s["image_sizes"].items()))
    for problem in PROBLEMS:
        bad = {e["name"]: e["reason"] for e in result["excluded"] if e["problem"] == problem}
        if bad:
            lines.append(f"  {problem.replace('_', ' ')} ({len(bad)}): {listing(bad)}")
    if s["unknown_ids"]["images"]:
        ids = sorted({int(i) for u in result["unknown_ids"].values() for i in u})
        lines.append(f"  unknown label ids {ids[:10]} in {s['unknown_ids']['images']} image(s), "
                     f"{s['unknown_ids']['pixels']} pixels: kept, those pixels ignored (255)")
    lines.append(f"wrote {result['file']}: loaders skip the excluded pairs; class counts for sampling/weighting")
    return "\n".join(lines)


def main(kind: str, root, out=None) -> int:
    """Run check_data and print the report; exit code 0 (ok, or problems excluded) or 2 (wrong root/layout)."""
    try:
        result = check_data(kind, root, out)
    except ValueError as e:          # DataLayoutError: one message naming the expected layout
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report(result))
    return 0
