"""Loaders, joint transforms and pseudo-labeled sets on tiny generated PNG fixtures."""
import os
import shutil

import numpy as np
import pytest
import torch
from conftest import RED, H, W, save_label, scene
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from thesislib.data import GTA5, Cityscapes, DataLayoutError, PseudoLabeled, train_transform
from thesislib.data.transforms import to_model


def red_to_train(image: torch.Tensor) -> torch.Tensor:
    """Train id encoded by each pixel's red value (-1 where it encodes none)."""
    red = image[0].long() if image.dtype == torch.uint8 else (image[0] * 255).round().long()
    out = torch.full_like(red, -1)
    for t, r in enumerate(RED.tolist()):
        out[(red - r).abs() <= 2] = t
    return out


def test_gta5_reads_palette_indices_as_label_ids(make_gta5):
    root = make_gta5(3)
    label = Image.open(root / "labels" / "00000.png")
    assert label.mode == "P" and np.array(label.convert("RGB"))[0, 0].tolist() == [128, 64, 128]  # road colour
    ds = GTA5(root)
    item = ds[1]
    assert ds.names == [f"images/{i:05d}.png" for i in range(3)] and item["name"] == "images/00001.png"
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, H, W)   # uint8 from the loaders
    assert item["mask"].dtype == torch.uint8 and item["mask"].shape == (H, W)
    assert torch.equal(item["mask"], torch.from_numpy(scene()[0]))            # label ids 7,8,11,12 -> 0..3
    model_in = to_model({"image": item["image"][None], "mask": item["mask"][None]}, torch.device("cpu"))
    assert model_in["image"].dtype == torch.float32 and 0 <= model_in["image"].min() and model_in["image"].max() <= 1
    assert model_in["mask"].dtype == torch.int64
    expected = v2.ToDtype(torch.float32, scale=True)(item["image"])          # bit for bit torchvision's scaling
    assert torch.equal(model_in["image"][0], expected)
    assert ds.excluded == {}


def test_greyscale_labels_and_unknown_ids_map_to_255(make_gta5):
    root = make_gta5(1)
    ids = np.full((H, W), 26, np.uint8)           # car -> 13
    ids[0, :3] = [0, 34, 200]                     # unlabeled, unknown, unknown
    save_label(root / "labels" / "00000.png", ids, mode="L")
    mask = GTA5(root)[0]["mask"]
    assert mask[0, :4].tolist() == [255, 255, 255, 13] and (mask[1:] == 13).all()


def test_cityscapes_splits(cityscapes_root):
    train = Cityscapes(cityscapes_root, "train")
    assert train.names == ["leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png",
                           "leftImg8bit/train/bremen/bremen_000000_000007_leftImg8bit.png"]
    assert torch.equal(train[0]["mask"], torch.from_numpy(scene()[0]).long())
    assert len(Cityscapes(cityscapes_root, "val")) == 1
    for split in ("test", "train_extra"):                 # unlabeled: no gtFine needed, masks all 255
        assert not (cityscapes_root / "gtFine" / split).exists()
        item = Cityscapes(cityscapes_root, split)[0]
        assert (item["mask"] == 255).all() and item["image"].shape == (3, H, W)
    with pytest.raises(ValueError, match="unknown Cityscapes split 'training'"):
        Cityscapes(cityscapes_root, "training")


def test_resize_at_load_image_bilinear_mask_nearest(make_gta5):
    item = GTA5(make_gta5(1), size=(4, 6))[0]
    train, image = scene()
    assert item["image"].shape == (3, 4, 6) and item["mask"].shape == (4, 6)
    expected = np.array(Image.fromarray(train).resize((6, 4), Image.Resampling.NEAREST))
    assert torch.equal(item["mask"], torch.from_numpy(expected))
    assert item["mask"][0].tolist() == [0, 1, 1, 2, 3, 3]
    smooth = np.array(Image.fromarray(image).resize((6, 4), Image.Resampling.BILINEAR))
    assert torch.equal(item["image"], torch.from_numpy(smooth).permute(2, 0, 1))


def test_ram_cache_is_shared_between_sets_and_follows_file_changes(make_gta5, monkeypatch):
    root = make_gta5(3)
    first = GTA5(root, size=(6, 9), cache_mb=1)[0]
    again = GTA5(root, size=(6, 9), cache_mb=1)                # another set over the same files
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    assert torch.equal(again[0]["image"], first["image"]) and torch.equal(again[0]["mask"], first["mask"])
    assert opened == [], "a cached pair is not read again"
    path = again.pairs[0].image                                # the file changes: it is read anew
    Image.fromarray(255 - np.array(real_open(path).convert("RGB"))).save(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not torch.equal(again[0]["image"], first["image"]) and path in opened
    batch = next(iter(DataLoader(again, batch_size=2)))
    assert batch["image"].shape == (2, 3, 6, 9) and batch["name"] == again.names[:2]


def test_ram_cache_stays_within_its_byte_budget(make_gta5, monkeypatch):
    from thesislib.data import common
    monkeypatch.setattr(common, "_RAM_CACHE", {})
    monkeypatch.setattr(common, "_RAM_CACHE_BYTES", [0])
    root = make_gta5(3)
    pair_bytes = 6 * 9 * 3 + 6 * 9
    ds = GTA5(root, size=(6, 9), cache_mb=2.5 * pair_bytes / 2**20)        # room for two pairs
    for i in range(3):
        ds[i]
    assert len(common._RAM_CACHE) == 2 and common._RAM_CACHE_BYTES[0] == 2 * pair_bytes
    GTA5(root, size=(6, 9))[2]                                             # no budget: nothing kept
    assert len(common._RAM_CACHE) == 2


def test_train_transform_keeps_image_and_mask_aligned(make_gta5):
    ds = GTA5(make_gta5(1), transform=train_transform((H, W), scale=(0.5, 1.5)))
    flipped = padded = 0
    for seed in range(12):
        torch.manual_seed(seed)
        item = ds[0]
        image, mask = item["image"], item["mask"]
        assert image.shape == (3, H, W) and mask.shape == (H, W)
        assert image.dtype == torch.uint8 and mask.dtype == torch.uint8
        pad = mask == 255
        assert (image[:, pad] == 0).all() and (image[:, ~pad] > 0).any(0).all()   # padding: image 0, mask 255
        valid = ~pad & (red_to_train(image) >= 0)
        assert (red_to_train(image)[valid] == mask[valid]).float().mean() > 0.9   # red encodes the mask
        row = mask[H // 2][mask[H // 2] != 255]
        flipped += bool(row[0] > row[-1])          # ids decrease left to right: flipped
        padded += bool(pad.any())
    assert flipped and padded                       # both a flip and a zoom-out padding were seen


def test_strong_noise_changes_the_image_only(make_gta5):
    ds = GTA5(make_gta5(1))
    noisy = GTA5(ds.root, transform=train_transform((H, W), scale=(1.0, 1.0), flip=False, strong=True))
    changed = 0
    for seed in range(6):
        torch.manual_seed(seed)
        item = noisy[0]
        assert torch.equal(item["mask"], ds[0]["mask"])
        changed += not torch.allclose(item["image"], ds[0]["image"], atol=1e-3)
    assert changed


def test_student_noise_parts_do_what_they_say():
    from torchvision import tv_tensors

    from thesislib.data.transforms import StudentNoise, hue_rotation, saturation_matrix
    img = tv_tensors.Image(torch.from_numpy(scene(16, 24)[1]).permute(2, 0, 1).contiguous())
    assert torch.equal(StudentNoise(jitter=(0, 0, 0, 0), p_blur=0, p_grey=0)(img), img)     # identity settings
    grey = StudentNoise(p_jitter=0, p_blur=0, p_grey=1)(img)
    assert isinstance(grey, tv_tensors.Image) and torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    blurred = StudentNoise(p_jitter=0, p_blur=1, p_grey=0, blur_sigma=(2.0, 2.0))(img).float()
    edges = lambda x: ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum()  # noqa: E731  (energy of the steps)
    assert edges(blurred) < 0.8 * edges(img.float())
    red = np.array([1.0, 0.0, 0.0])
    assert np.argmax(hue_rotation(2 * np.pi / 3) @ red) == 1 and np.allclose(hue_rotation(2 * np.pi) @ red, red)
    assert np.allclose(saturation_matrix(0.0) @ red, 0.213) and np.allclose(saturation_matrix(1.0), np.eye(3))


def test_pseudo_labeled_returns_saved_labels_and_weights(cityscapes_root, tmp_path):
    base = Cityscapes(cityscapes_root, "train_extra")
    name = base.names[0]
    labels, weights = tmp_path / "pseudo" / "labels", tmp_path / "pseudo" / "weights"
    train = scene()[0].copy()
    train[:, :2] = 255                                               # not confident: ignored
    save_label(labels / name, train, mode="L")
    save_label(weights / name, np.full((H, W), 51, np.uint8), mode="L")
    item = PseudoLabeled(base, labels, weights)[0]
    assert item["name"] == name and torch.equal(item["mask"], torch.from_numpy(train).long())
    assert item["weight"].dtype == torch.float32 and torch.allclose(item["weight"], torch.full((H, W), 0.2))

    base.transform = train_transform((H, W), scale=(0.5, 0.5), flip=False)      # zoom out: padding
    torch.manual_seed(0)
    item = PseudoLabeled(base, labels, weights)[0]
    pad = (item["image"] == 0).all(0)
    assert pad.any() and (item["mask"][pad] == 255).all() and (item["weight"][pad] == 0).all()
    assert (item["weight"][~pad] > 0).all()

    with pytest.raises(DataLayoutError, match="1 pseudo-label file.*missing"):
        PseudoLabeled(Cityscapes(cityscapes_root, "test"), labels)


def test_wrong_root_names_the_expected_layout(tmp_path, cityscapes_root, make_gta5):
    with pytest.raises(DataLayoutError, match=r"nope: does not exist; expected ROOT/images/NNNNN.png and "
                                              r"ROOT/labels/NNNNN.png \(GTA5 layout\)\. Fix: pass the folder"):
        GTA5(tmp_path / "nope")
    with pytest.raises(DataLayoutError, match=r"GTA5 layout"):
        GTA5(cityscapes_root)
    with pytest.raises(DataLayoutError, match=r"leftImg8bit/train: has no .*Cityscapes layout.*Fix: pass the Cit"):
        Cityscapes(make_gta5(1), "train")
    shutil.rmtree(cityscapes_root / "gtFine" / "val")
    with pytest.raises(DataLayoutError, match=r"gtFine/val: does not exist.*Fix: unpack gtFine_trainvaltest.zip"):
        Cityscapes(cityscapes_root, "val")


def test_the_working_copy_gives_the_loaders_the_same_items(make_gta5, cityscapes_root, tmp_path):
    """A one-time copy at the working resolution: every item reads as it reads from the original (resized at
    load), the unlabeled split included; a second call reuses it."""
    from thesislib.data.check import ensure_checked
    from thesislib.data.working import DONE, working_copy
    make_gta5(3)
    ensure_checked(tmp_path)
    copy = working_copy(tmp_path, (4, 6), tmp_path / "copy")
    pairs = [(GTA5(tmp_path / "gta5", size=(4, 6)), GTA5(copy / "gta5", size=(4, 6)))]
    pairs += [(Cityscapes(cityscapes_root, s, size=(4, 6)), Cityscapes(copy / "cityscapes", s, size=(4, 6)))
              for s in ("train", "val", "train_extra")]
    for original, copied in pairs:
        assert copied.names == original.names and len(original)
        for i in range(len(original)):
            a, b = original[i], copied[i]
            assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
        assert Image.open(copied.pairs[0].image).size == (6, 4)              # stored small: a small decode
    stamp = (copy / DONE).stat().st_mtime_ns
    assert working_copy(tmp_path, (4, 6), tmp_path / "copy") == copy and (copy / DONE).stat().st_mtime_ns == stamp


def test_the_paper_profile_trains_from_the_working_copy(make_gta5, cityscapes_root, tmp_path):
    """Real data at the paper profile: the trainers read the copy under the build folder; scoring the original."""
    from thesislib.runs.lab import Lab
    make_gta5(2)
    lab = Lab("paper", data_root=tmp_path, build_dir=tmp_path / "build", overrides={"image_hw": (4, 6)})
    root = lab.training_root()
    assert root.parent == tmp_path / "build" / "working" and lab.data() == tmp_path
    assert Image.open(next((root / "gta5" / "images").iterdir())).size == (6, 4)
    assert Lab("default", data_root=tmp_path, build_dir=tmp_path / "build").training_root() == tmp_path
