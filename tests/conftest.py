"""Tiny generated datasets in the GTA5 and Cityscapes layouts (a few 8x12 PNGs each).

Every scene has four vertical blocks of train ids 0..3 (label ids 7, 8, 11, 12); the image's red
channel encodes the train id (RED[train id]), so alignment of image and mask can be checked."""
import numpy as np
import pytest
from PIL import Image

from thesislib.data.labels import CLASS_IDS, label_id_palette

H, W = 8, 12
RED = np.array([40, 90, 140, 190], dtype=np.uint8)   # red value of train ids 0..3


def scene(h=H, w=W) -> tuple[np.ndarray, np.ndarray]:
    """(train ids, RGB image) of the four-block scene."""
    train = np.repeat((np.arange(w) * 4 // w)[None], h, axis=0)
    image = np.stack([RED[train], np.full_like(train, 200, np.uint8), np.zeros_like(train, np.uint8)], -1)
    return train.astype(np.uint8), image


def save_label(path, ids: np.ndarray, mode="P") -> None:
    """A label-id PNG, palettised (Cityscapes colours, indices = ids) like GTA5, or greyscale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ids.astype(np.uint8), mode="L")
    if mode == "P":
        img.putpalette(label_id_palette())
    img.save(path)


def save_scene(image_path, label_path, h=H, w=W) -> None:
    train, image = scene(h, w)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(image_path)
    if label_path is not None:
        save_label(label_path, np.array(CLASS_IDS, dtype=np.uint8)[train])


@pytest.fixture
def make_gta5(tmp_path):
    """make_gta5(n) -> a GTA5-layout root with n valid pairs images/0000i.png + labels/0000i.png."""
    def make(n=3, name="gta5"):
        root = tmp_path / name
        for i in range(n):
            save_scene(root / "images" / f"{i:05d}.png", root / "labels" / f"{i:05d}.png")
        return root
    return make


@pytest.fixture
def cityscapes_root(tmp_path):
    """train: 2 images (2 cities), val: 1, test: 1 and train_extra: 1 (unlabeled, no gtFine)."""
    root = tmp_path / "cityscapes"
    for split, city, frame in [("train", "aachen", 19), ("train", "bremen", 7), ("val", "lindau", 1),
                               ("test", "berlin", 2), ("train_extra", "augsburg", 3)]:
        stem = f"{city}_000000_{frame:06d}"
        label = root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"
        save_scene(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
                   label if split in ("train", "val") else None)
    return root
