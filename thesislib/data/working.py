"""A one-time copy of a data root at the working resolution, for the training loaders.

At the paper profile every training item would decode a full-size PNG (GTA5 1914x1052, Cityscapes
2048x1024) and resize it to `image_hw` (512x1024): most of a loader core's time. `working_copy` writes each
image resized once (bilinear with antialiasing) and each label resized (nearest), exactly as the loaders
resize them at load (`common.resize`), in the same layouts, with the check-data statistics of the original
(the same names and class counts): a loader reading the copy gives the same arrays, so a training reads it
wherever it can. Scoring keeps reading the original: labels are never resized there.
"""
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from thesislib.data import cityscapes, gta5
from thesislib.data.common import open_label, resize
from thesislib.io import atomic_write_json, locked
from thesislib.paths import check_file

DONE = "working-copy.json"


def _pairs(root: Path):
    """(kind, pair) of every image of a data root's two sets, the excluded ones left out."""
    for kind in ("gta5", "cityscapes"):
        doc = json.loads(check_file(root / kind).read_text())
        excluded = {e["name"] for e in doc["excluded"]}
        if kind == "gta5":
            pairs = gta5.list_pairs(root / kind)
        else:
            pairs = [p for s in cityscapes.present_splits(root / kind) for p in cityscapes.list_pairs(root / kind, s)]
        yield from ((kind, p) for p in pairs if p.name not in excluded)


def _write(kind: str, pair, root: Path, out: Path, size) -> None:
    image = resize(Image.open(pair.image).convert("RGB"), size, Image.Resampling.BILINEAR)
    target = out / kind / pair.image.relative_to(root / kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, compress_level=1)
    if pair.labeled and pair.label is not None:
        label = open_label(pair.label)
        small = resize(label, size, Image.Resampling.NEAREST)
        if label.mode == "P":
            small.putpalette(label.getpalette())
        target = out / kind / pair.label.relative_to(root / kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        small.save(target, compress_level=1)


def working_copy(root, size, dest) -> Path:
    """`dest`: the data root `root` (gta5/ and cityscapes/, checked) with every image at `size` = (h, w);
    written once, in parallel threads, atomically (a half-written copy is never read)."""
    root, dest = Path(root), Path(dest)
    meta = {"source": str(root.resolve()), "size": list(size)}
    with locked(dest.with_name(dest.name + ".lock")):            # two processes asking: one writes, one waits
        if not ((dest / DONE).is_file() and json.loads((dest / DONE).read_text()) == meta):
            _write_copy(root, tuple(size), dest, meta)
    return dest


def _write_copy(root: Path, size, dest: Path, meta: dict) -> None:
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:       # PIL decodes, resizes and encodes without the GIL
        list(pool.map(lambda kp: _write(*kp, root, tmp, size), _pairs(root)))
    for kind in ("gta5", "cityscapes"):
        shutil.copyfile(check_file(root / kind), tmp / kind / "thesislib-check.json")
    atomic_write_json(tmp / DONE, meta)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
