"""Cityscapes (Cordts et al. 2016): ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
with ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png; test and train_extra
(leftImg8bit_trainextra) are used unlabeled (masks all 255, no label files needed)."""
from pathlib import Path

from thesislib.data.common import Pair, SegmentationSet, layout_error, match_pairs

SPLITS = ("train", "val", "test", "train_extra")
LABELED = ("train", "val")
IMAGE_SUFFIX, LABEL_SUFFIX = "_leftImg8bit.png", "_gtFine_labelIds.png"
LAYOUT = ("ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png and "
          "ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png (Cityscapes layout)")
FIX = "pass the Cityscapes root, the folder that holds leftImg8bit/ and gtFine/"


def present_splits(root) -> list[str]:
    """The splits with a leftImg8bit folder under `root` (at least one, else DataLayoutError)."""
    found = [s for s in SPLITS if (Path(root) / "leftImg8bit" / s).is_dir()]
    if not found:
        what = "has no leftImg8bit/{train,val,test,train_extra} folder"
        raise layout_error(root, what if Path(root).is_dir() else "does not exist", LAYOUT, FIX)
    return found


def list_pairs(root, split: str) -> list[Pair]:
    """The image/label pairs of one split (a missing partner is None; unlabeled splits have no labels)."""
    if split not in SPLITS:
        raise ValueError(f"unknown Cityscapes split {split!r}: use one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise layout_error(root, "does not exist", LAYOUT, FIX)
    images = sorted((root / "leftImg8bit" / split).glob(f"*/*{IMAGE_SUFFIX}"))
    if not images:
        extra = " (train_extra comes from leftImg8bit_trainextra.zip)" if split == "train_extra" else ""
        raise layout_error(root / "leftImg8bit" / split, "has no {city}/*_leftImg8bit.png images", LAYOUT, FIX + extra)
    if split not in LABELED:
        return [Pair(p.relative_to(root).as_posix(), p, None, labeled=False) for p in images]
    gt = root / "gtFine" / split
    if not gt.is_dir():
        raise layout_error(gt, "does not exist", LAYOUT, "unpack gtFine_trainvaltest.zip into ROOT")
    return match_pairs(root, images, sorted(gt.glob(f"*/*{LABEL_SUFFIX}")),
                       key_image=lambda p: p.name.removesuffix(IMAGE_SUFFIX),
                       key_label=lambda p: p.name.removesuffix(LABEL_SUFFIX),
                       image_for=lambda p: root / "leftImg8bit" / split / p.parent.name
                       / p.name.replace(LABEL_SUFFIX, IMAGE_SUFFIX))


class Cityscapes(SegmentationSet):
    """One Cityscapes split; see SegmentationSet. The check file covers all splits of the root."""
    kind, layout = "cityscapes", LAYOUT

    def __init__(self, root, split, size=None, transform=None, cache_mb=0, check_file=None, native_labels=False):
        self.split = split
        super().__init__(root, list_pairs(root, split), size, transform, cache_mb, check_file, native_labels)
