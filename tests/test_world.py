"""The embedded world: layout, label validity, determinism, idempotence, class coverage, domain gap."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from thesislib.data.labels import NUM_CLASSES, VALID_IDS, label_id_palette, to_train_ids
from thesislib.tools.world import CITIES, write_world
from thesislib.profiles import get_profile

SMOKE = get_profile("smoke")
CS_NAME = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})_leftImg8bit\.png$")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("w") / "world"
    summary = write_world(out, "smoke", seed=0, workers=2, progress=False)
    return out, summary


def _images(root, split):
    return sorted((root / "cityscapes/leftImg8bit" / split).glob("*/*.png"))


def _gt(image):
    """The gtFine label path of a leftImg8bit image."""
    return image.parents[3] / "gtFine" / image.parent.parent.name / image.parent.name / image.name.replace(
        "_leftImg8bit.png", "_gtFine_labelIds.png")


def test_gta5_layout_and_labels(world):
    root, _ = world
    names = [f"{i:05d}.png" for i in range(1, SMOKE.n_source + 1)]
    assert sorted(p.name for p in (root / "gta5/images").iterdir()) == names
    assert sorted(p.name for p in (root / "gta5/labels").iterdir()) == names
    h, w = SMOKE.world_hw
    for name in names[:5]:
        image, label = Image.open(root / "gta5/images" / name), Image.open(root / "gta5/labels" / name)
        assert image.mode == "RGB" and image.size == (w, h) == label.size
        assert label.mode == "P" and label.getpalette() == label_id_palette()
        assert set(np.unique(np.asarray(label)).tolist()) <= VALID_IDS


def test_cityscapes_layout_and_labels(world):
    root, _ = world
    seen = {}
    for split, n in (("train", SMOKE.n_train), ("val", SMOKE.n_val), ("train_extra", SMOKE.n_extra)):
        images = _images(root, split)
        assert len(images) == n
        for image in images:
            m = CS_NAME.match(image.name)
            assert m and m.group(1) == image.parent.name in CITIES[split]
            label = _gt(image)
            assert label.exists() == (split != "train_extra")
            if label.exists():
                lab = Image.open(label)
                assert lab.mode == "L" and lab.size == Image.open(image).size
                assert set(np.unique(np.asarray(lab)).tolist()) <= VALID_IDS
        seen[split] = {p.parent.name for p in images}
        assert len(seen[split]) >= 2                                        # several cities per split
    assert not (seen["train"] & seen["val"]) and not (seen["val"] & seen["train_extra"])
    assert not (root / "cityscapes/gtFine/train_extra").exists()


def test_world_json_and_atomic_write(world):
    root, summary = world
    info = json.loads((root / "world.json").read_text())
    assert info["profile"] == "smoke" and info["seed"] == 0
    assert info["counts"] == {"source": 24, "train": 12, "val": 8, "train_extra": 16}
    assert summary["counts"] == info["counts"] and summary["seconds"] > 0
    assert [p.name for p in root.parent.iterdir()] == ["world"]             # no temporary folder left


def test_every_class_in_target_val_and_some_void(world):
    root, _ = world
    ids = np.stack([np.asarray(Image.open(_gt(p))) for p in _images(root, "val")])
    train_ids = to_train_ids(ids)
    assert set(np.unique(train_ids).tolist()) >= set(range(NUM_CLASSES))
    assert (train_ids == 255).any() and (ids == 1).any()                   # ego vehicle is void


def test_idempotent_and_refuses_other_world(world):
    root, _ = world
    before = (root / "gta5/images/00001.png").stat().st_mtime_ns
    again = write_world(root, "smoke", seed=0, progress=False)
    assert again["reused"] and (root / "gta5/images/00001.png").stat().st_mtime_ns == before
    with pytest.raises(ValueError, match=re.escape(str(root))):
        write_world(root, "smoke", seed=1, progress=False)


def test_refuses_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="--out"):
        write_world(tmp_path, "smoke", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_deterministic_from_seed(world, tmp_path):
    root, _ = world
    same = write_world(tmp_path / "same", "smoke", seed=0, workers=1, progress=False)
    other = write_world(tmp_path / "other", "smoke", seed=1, workers=1, progress=False)
    assert not same["reused"] and not other["reused"]
    files = ["gta5/images/00003.png", "gta5/labels/00003.png",
             str(_images(root, "val")[1].relative_to(root)), str(_gt(_images(root, "val")[1]).relative_to(root))]
    for rel in files:
        data = (root / rel).read_bytes()
        assert (tmp_path / "same" / rel).read_bytes() == data
        assert (tmp_path / "other" / rel).read_bytes() != data


def test_domains_differ_in_appearance(world):
    root, _ = world
    src = np.stack([np.asarray(Image.open(p)) for p in sorted((root / "gta5/images").glob("*.png"))]).astype(int)
    tgt = np.stack([np.asarray(Image.open(p)) for p in _images(root, "train")]).astype(int)

    def flat_share(x):   # neighbouring pixels with exactly the same colour: clean rendering, no sensor noise
        return (np.abs(np.diff(x, axis=2)).sum(-1) == 0).mean()

    def saturation(x):
        return ((x.max(-1) - x.min(-1)) / np.maximum(x.max(-1), 1)).mean()

    def sky_noise(x):    # the top rows are sky: clean in the game, noisy and JPEG'd through the camera
        return np.median(np.abs(np.diff(x[:, : x.shape[1] // 6], axis=1)).sum(-1))

    assert flat_share(src) > 2 * flat_share(tgt)
    assert saturation(src) > saturation(tgt) + 0.1
    assert sky_noise(tgt) > 2 * sky_noise(src)


def test_thin_objects_stay_two_pixels_wide_at_the_working_resolution():
    """A pole 30 m away through the narrowest lens is >= 2 px wide once resized to the default image_hw."""
    from thesislib.tools import world
    prof = get_profile("default")
    p = world._Painter(prof.world_hw, world.TARGET, np.random.default_rng(0))
    p.f = prof.world_hw[1] * world.TARGET.focal[0]
    world._pole(p, 0.0, 30.0, "lamp", 1)
    pole = np.asarray(p.label) == world.ID["pole"]
    width = pole[int(p.yh) + 2].sum()                     # one row of the upright, below the lamp arm
    assert width * prof.image_hw[1] / prof.world_hw[1] >= 2
