"""What the GTA5 and Cityscapes loaders share: pairs, PNG reading, validation, the base dataset.

A loader lists (image, label) pairs, validates them at construction (missing partners, unreadable
PNG headers, image/label size mismatch) and skips the pairs that the check-data JSON of its root
excludes; anything else broken raises one `DataLayoutError` instead of crashing mid-epoch.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, get_worker_info
from torchvision import tv_tensors

from thesislib.data.labels import IGNORE_INDEX, to_train_ids
from thesislib.data.transforms import WeightMap, to_dtypes
from thesislib.paths import check_file as default_check_file

MAX_LISTED = 5                        # file names quoted in one error message
_RAM_CACHE: dict = {}                 # (image, label, mtimes, size) -> (image, mask) uint8 arrays
_RAM_CACHE_BYTES = [0]                # what this process's cache holds


class DataLayoutError(ValueError):
    """A data root or its files do not have the expected layout (the message says how to fix it)."""


def layout_error(path, problem: str, expected: str, fix: str) -> DataLayoutError:
    return DataLayoutError(f"{path}: {problem}; expected {expected}. Fix: {fix}.")


def listing(items: dict[str, str] | list[str]) -> str:
    """'a (why), b (why), ... and N more' for an error message."""
    shown = [f"{k} ({items[k]})" if isinstance(items, dict) else k for k in list(items)[:MAX_LISTED]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


@dataclass(frozen=True)
class Pair:
    """One item: `name` is the image path relative to the root (the stable key); a missing partner is None."""
    name: str
    image: Path | None
    label: Path | None
    labeled: bool = True

    @property
    def missing(self) -> str | None:
        if self.image is None:
            return "missing image"
        if self.labeled and self.label is None:
            return "missing label"
        return None


def match_pairs(root: Path, images: list[Path], labels: list[Path], key_image, key_label, image_for) -> list[Pair]:
    """Pairs of image and label files matched by key; `image_for(label)` names a missing image."""
    by_key = {key_label(p): p for p in labels}
    pairs = [Pair(p.relative_to(root).as_posix(), p, by_key.pop(key_image(p), None)) for p in images]
    pairs += [Pair(image_for(p).relative_to(root).as_posix(), None, p) for p in by_key.values()]
    return sorted(pairs, key=lambda p: p.name)


def open_label(path: Path) -> Image.Image:
    """A label PNG whose pixel values are label ids: palettised ('P', indices) or greyscale ('L')."""
    label = Image.open(path)
    if label.mode not in ("P", "L"):
        raise ValueError(f"label PNG is mode {label.mode}, expected palettised 'P' or greyscale 'L' label ids")
    return label


def size_mismatch(image_size, label_size) -> str:
    return f"size mismatch: image {image_size[0]}x{image_size[1]}, label {label_size[0]}x{label_size[1]}"


def header_problem(pair: Pair) -> str | None:
    """What is wrong with a pair that is visible from the PNG headers alone (cheap), or None."""
    if pair.missing:
        return pair.missing
    try:
        image_size = Image.open(pair.image).size
    except Exception as e:  # noqa: BLE001 - any PIL failure means unreadable
        return f"unreadable image: {e}"
    if not pair.labeled:
        return None
    try:
        label_size = open_label(pair.label).size
    except Exception as e:  # noqa: BLE001
        return f"unreadable label: {e}"
    return size_mismatch(image_size, label_size) if image_size != label_size else None


def read_check_file(path) -> dict | None:
    """The check-data JSON at `path`, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataLayoutError(f"{path}: unreadable check file ({e}). Fix: delete it and run "
                              f"`thesislib check-data KIND ROOT` again.") from e


def resize(img: Image.Image, size, resample) -> Image.Image:
    return img if size is None or img.size == (size[1], size[0]) else img.resize((size[1], size[0]), resample)


def read_png(path: Path, size=None, resample=Image.Resampling.NEAREST) -> np.ndarray:
    """A uint8 single-channel PNG (pseudo-labels, weights) as an array, resized to (h, w) if given."""
    return np.array(resize(Image.open(path), size, resample))


class SegmentationSet(Dataset):
    """Image/label pairs of one layout; items {"image": uint8 3xHxW, "mask": uint8 HxW train ids (255
    ignored), "name": image path relative to the root} (`transforms.to_model` makes them what a model reads).

    `size=(h, w)` resizes at load (image bilinear with antialiasing, mask nearest; with `native_labels`
    the mask keeps the label file's own resolution, as evaluation needs); `cache` keeps the
    resized uint8 arrays in RAM, shared by every set of the process that reads the same unchanged files
    at the same size (a notebook trains many models on the same images), up to `cache_mb` megabytes
    for all DataLoader workers together (each worker keeps its share; 0: no cache), so memory stays
    bounded whatever the data size; `transform` is a joint
    torchvision v2 transform applied after the resize. Subclasses set `kind` (the check-data kind) and
    `layout` (the expected layout in words).
    """
    kind = layout = ""

    def __init__(self, root, pairs: list[Pair], size=None, transform=None, cache_mb=0, check_file=None,
                 native_labels=False):
        self.root = Path(root)
        self.size = tuple(size) if size is not None else None
        self.native_labels = native_labels
        self.transform, self.cache_mb = transform, cache_mb
        self.check_file = Path(check_file) if check_file is not None else default_check_file(self.root)
        listed = (read_check_file(self.check_file) or {}).get("excluded", [])
        excluded = {e["name"]: e["reason"] for e in listed}
        self._excluded = {p.name: excluded[p.name] for p in pairs if p.name in excluded}
        broken = {p.name: why for p in pairs if p.name not in excluded and (why := header_problem(p))}
        if broken:
            raise layout_error(self.root, f"{len(broken)} broken image/label pair(s) not excluded by "
                               f"{self.check_file}: {listing(broken)}", self.layout,
                               f"run `thesislib check-data {self.kind} {self.root}` (it writes the exclusion "
                               "list that loaders then skip), or repair the files")
        self.pairs = [p for p in pairs if p.name not in excluded]
        self.names = [p.name for p in self.pairs]

    @property
    def excluded(self) -> dict[str, str]:
        """{name: reason} of the pairs of this set skipped because the check file excludes them
        (size mismatch, missing partner, unreadable file, unknown label id)."""
        return dict(self._excluded)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Item i as resized uint8 arrays: image (H, W, 3) and train-id mask (H, W); no transform."""
        pair = self.pairs[i]
        key = None
        if self.cache_mb:
            files = [f for f in (pair.image, pair.label if pair.labeled else None) if f is not None]
            key = (*map(str, files), *(f.stat().st_mtime_ns for f in files), self.size, self.native_labels)
            if key in _RAM_CACHE:
                return _RAM_CACHE[key]
        original = self._decode(pair.image, lambda f: Image.open(f).convert("RGB"))
        image = resize(original, self.size, Image.Resampling.BILINEAR)
        if pair.labeled:
            mask = self.mask(i)
        else:                      # all ignored, at the size a label would have
            w, h = original.size if self.native_labels else image.size
            mask = np.full((h, w), IGNORE_INDEX, dtype=np.uint8)
        out = np.array(image), mask
        if key is not None:
            self._keep(key, out)
        return out

    def _keep(self, key, arrays) -> None:
        """Cache `arrays` if this process's share of the `cache_mb` budget has room for them."""
        worker = get_worker_info()
        budget = self.cache_mb * 2**20 / (worker.num_workers if worker else 1)
        size = sum(a.nbytes for a in arrays)
        if _RAM_CACHE_BYTES[0] + size <= budget:
            _RAM_CACHE[key] = arrays
            _RAM_CACHE_BYTES[0] += size

    def mask(self, i: int) -> np.ndarray:
        """The train-id mask of item i alone (its image is not decoded), at the size `load` gives it."""
        pair = self.pairs[i]
        if not pair.labeled:
            raise ValueError(f"{self.root}: {pair.name} has no label")
        label = self._decode(pair.label, lambda f: open_label(f).copy())
        return to_train_ids(np.array(label if self.native_labels else resize(label, self.size, Image.Resampling.NEAREST)))

    def _decode(self, path: Path, read):
        """read(path) -> a decoded image; a file PIL cannot decode (e.g. truncated) names itself."""
        try:
            return read(path)
        except (OSError, ValueError, SyntaxError) as e:
            raise layout_error(path, f"cannot be decoded ({e})", self.layout,
                               f"run `thesislib check-data {self.kind} {self.root}` (it lists unreadable files, "
                               "which the loaders then skip), or replace the file") from e

    def sample(self, name: str, image: np.ndarray, mask: np.ndarray, **extra) -> dict:
        """The item dict: arrays wrapped as tv_tensors, transformed jointly, uint8 image and mask."""
        tensors = {"image": tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)),
                   "mask": tv_tensors.Mask(torch.from_numpy(mask)), **extra}
        if self.transform is not None:
            tensors = self.transform(tensors)
        tensors = to_dtypes(tensors)
        return {**{k: v.as_subclass(torch.Tensor) for k, v in tensors.items()}, "name": name}

    def __getitem__(self, i: int) -> dict:
        return self.sample(self.names[i], *self.load(i))


class PseudoLabeled(Dataset):
    """An (unlabeled) set whose masks come from `label_dir/<name as .png>` (uint8 train ids, 255
    ignored) and, with `weight_dir`, a float "weight" map (uint8 PNG / 255, padded with 0); both
    go through the base set's transform together with its image."""

    def __init__(self, base: SegmentationSet, label_dir, weight_dir=None):
        self.base, self.dirs = base, [Path(label_dir)] + ([Path(weight_dir)] if weight_dir else [])
        missing = [str(self._path(d, n)) for d in self.dirs for n in base.names if not self._path(d, n).is_file()]
        if missing:
            raise layout_error(self.dirs[0], f"{len(missing)} pseudo-label file(s) missing: {listing(missing)}",
                               "one uint8 PNG per image at LABEL_DIR/<item name>.png",
                               "regenerate the pseudo-labels for this dataset")

    @staticmethod
    def _path(folder: Path, name: str) -> Path:
        return folder / Path(name).with_suffix(".png")

    @property
    def names(self) -> list[str]:
        return self.base.names

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        image, _ = self.base.load(i)
        name, hw = self.names[i], image.shape[:2]
        mask, *weight = [read_png(self._path(d, name), hw) for d in self.dirs]
        extra = {"weight": WeightMap(torch.from_numpy(weight[0]).float() / 255)} if weight else {}
        return self.base.sample(name, image, mask, **extra)


class Relabeled(Dataset):
    """The images of `images` with the masks of `labels` (native_labels: full resolution), matched by name: a
    translated copy of a set scored against the original labels, never resized ones."""

    def __init__(self, images: SegmentationSet, labels: SegmentationSet):
        index = {name: i for i, name in enumerate(labels.names)}
        missing = [n for n in images.names if n not in index]
        if missing:
            raise layout_error(labels.root, f"{len(missing)} item(s) of {images.root} have no label here: "
                               f"{listing(missing)}", labels.layout, "translate the source set again")
        self.images, self.labels, self._label_of = images, labels, [index[n] for n in images.names]

    @property
    def names(self) -> list[str]:
        return self.images.names

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {**self.images[i], "mask": torch.from_numpy(self.labels.mask(self._label_of[i]))}
