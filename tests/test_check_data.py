"""check-data on valid and broken fixtures; loaders use the exclusion list it writes."""
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import H, W, save_label
from PIL import Image

from thesislib.__main__ import main as cli
from thesislib.data import GTA5, Cityscapes, DataLayoutError, check_data, load_class_counts
from thesislib.data.check import main


def shrink_label(root):
    label = root / "labels" / "00001.png"
    Image.open(label).resize((W - 2, H)).save(label)


def unknown_id(root):
    save_label(root / "labels" / "00001.png", np.full((H, W), 40, np.uint8))


def truncate_image(root):                   # header intact (lazy size works), pixel data cut off
    path = root / "images" / "00001.png"
    path.write_bytes(path.read_bytes()[:60])


def drop_label(root):
    (root / "labels" / "00001.png").unlink()


BREAKERS = [(shrink_label, "size mismatch", "size mismatch: image 12x8, label 10x8"),
            (truncate_image, "unreadable", "unreadable image"),
            (drop_label, "missing partner", "missing label")]


def test_valid_gta5_root(make_gta5, capsys):
    root = make_gta5(3)
    assert cli(["check-data", "gta5", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 images, 0 pair(s) excluded" in out and "12x8 x3" in out
    doc = json.loads((root / "thesislib-check.json").read_text())
    assert doc["excluded"] == [] and doc["summary"]["image_sizes"] == {"12x8": 3}
    counts = load_class_counts(root / "thesislib-check.json")
    assert sorted(counts) == GTA5(root).names
    assert counts["images/00000.png"].tolist() == [3 * H, 3 * H, 3 * H, 3 * H] + [0] * 15


@pytest.mark.parametrize("breaker, problem, reason", BREAKERS, ids=[b[0].__name__ for b in BREAKERS])
def test_broken_pair_is_reported_excluded_and_skipped(make_gta5, capsys, breaker, problem, reason):
    root = make_gta5(3)
    breaker(root)
    assert main("gta5", root) == 0                            # problems are warnings: pairs get excluded
    out = capsys.readouterr().out
    assert f"{problem} (1): images/00001.png ({reason}" in out and "1 pair(s) excluded" in out
    doc = json.loads((root / "thesislib-check.json").read_text())
    assert [e["name"] for e in doc["excluded"]] == ["images/00001.png"] and reason in doc["excluded"][0]["reason"]
    assert "images/00001.png" not in doc["class_counts"] and len(doc["class_counts"]) == 2
    ds = GTA5(root)
    assert ds.names == ["images/00000.png", "images/00002.png"] and list(ds.excluded) == ["images/00001.png"]
    assert ds[1]["mask"].shape == (H, W)


def test_unknown_label_ids_are_ignored_and_the_image_kept(make_gta5, capsys):
    root = make_gta5(3)
    label = np.asarray(Image.open(root / "labels" / "00001.png")).copy()
    label[:, :2] = 40                                          # an id outside the Cityscapes table
    save_label(root / "labels" / "00001.png", label)
    assert main("gta5", root) == 0
    out = capsys.readouterr().out
    assert "0 pair(s) excluded" in out and f"unknown label ids [40] in 1 image(s), {2 * H} pixels" in out
    doc = json.loads((root / "thesislib-check.json").read_text())
    assert doc["excluded"] == [] and doc["unknown_ids"] == {"images/00001.png": {"40": 2 * H}}
    assert sum(doc["class_counts"]["images/00001.png"]) == H * W - 2 * H      # the unknown pixels count nowhere
    mask = GTA5(root)[1]["mask"]
    assert len(GTA5(root)) == 3 and (mask[:, :2] == 255).all() and (mask[:, 2:] != 255).all()


def test_truncated_image_without_check_names_the_file(make_gta5):
    """A valid header over a truncated body passes the construction check; loading it names the file."""
    root = make_gta5(2)
    truncate_image(root)
    ds = GTA5(root)
    with pytest.raises(DataLayoutError) as err:
        ds[1]
    assert "images/00001.png: cannot be decoded" in str(err.value) and "thesislib check-data gta5" in str(err.value)


def test_loader_on_broken_root_without_check_file_fails_at_construction(make_gta5):
    root = make_gta5(4)
    shrink_label(root)
    (root / "images" / "00003.png").write_bytes(b"not a png")
    with pytest.raises(DataLayoutError) as err:
        GTA5(root)
    msg = str(err.value)
    assert "2 broken image/label pair(s)" in msg and "images/00001.png (size mismatch: image 12x8, label 10x8)" in msg
    assert "images/00003.png (unreadable image" in msg and "GTA5 layout" in msg
    assert f"run `thesislib check-data gta5 {root}`" in msg
    check_data("gta5", root, progress=False)
    assert len(GTA5(root)) == 2


def test_check_file_option_and_orphan_label(make_gta5, tmp_path):
    root = make_gta5(2)
    save_label(root / "labels" / "00007.png", np.full((H, W), 7, np.uint8))     # label without image
    with pytest.raises(DataLayoutError, match=r"images/00007.png \(missing image\)"):
        GTA5(root)
    result = check_data("gta5", root, out=tmp_path / "elsewhere.json", progress=False)
    assert result["summary"]["problems"]["missing_partner"] == 1 and not (root / "thesislib-check.json").exists()
    assert GTA5(root, check_file=tmp_path / "elsewhere.json").excluded == {"images/00007.png": "missing image"}


@pytest.mark.parametrize("kind, root, expected", [
    ("gta5", "nope", "nope: does not exist; expected ROOT/images/NNNNN.png and ROOT/labels/NNNNN.png (GTA5 layout)"),
    ("gta5", "cityscapes", "cityscapes: has no images/*.png and labels/ folder; expected ROOT/images/NNNNN.png"),
    ("cityscapes", "gta5", "gta5: has no leftImg8bit/{train,val,test,train_extra} folder; expected "
                           "ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png"),
])
def test_wrong_root_exits_2_with_one_message(tmp_path, make_gta5, cityscapes_root, capsys, kind, root, expected):
    make_gta5(1)
    assert main(kind, tmp_path / root) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("error:") == 1
    assert f"{tmp_path / expected}" in captured.err and "Fix: pass the" in captured.err


def test_cityscapes_all_splits_in_one_file(cityscapes_root, capsys):
    (cityscapes_root / "gtFine/val/lindau/lindau_000000_000001_gtFine_labelIds.png").unlink()
    (cityscapes_root / "leftImg8bit/train/bremen/bremen_000000_000007_leftImg8bit.png").unlink()
    with pytest.raises(DataLayoutError, match=r"val/lindau/lindau_000000_000001_leftImg8bit.png \(missing label\)"):
        Cityscapes(cityscapes_root, "val")
    with pytest.raises(DataLayoutError, match=r"train/bremen/bremen_000000_000007_leftImg8bit.png \(missing image\)"):
        Cityscapes(cityscapes_root, "train")
    assert main("cityscapes", cityscapes_root) == 0
    splits = json.loads((cityscapes_root / "thesislib-check.json").read_text())["summary"]["splits"]
    assert {s: (v["images"], v["labeled"], v["excluded"]) for s, v in splits.items()} == {
        "train": (1, True, 1), "val": (1, True, 1), "test": (1, False, 0), "train_extra": (1, False, 0)}
    assert "train_extra       1 images (unlabeled)" in capsys.readouterr().out
    counts = load_class_counts(cityscapes_root / "thesislib-check.json")
    train = Cityscapes(cityscapes_root, "train")
    assert sorted(counts) == train.names == ["leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"]
    for i, name in enumerate(train.names):
        assert np.array_equal(counts[name], np.bincount(train[i]["mask"].flatten(), minlength=19))
    assert len(Cityscapes(cityscapes_root, "val")) == 0 and len(Cityscapes(cityscapes_root, "test")) == 1


def test_read_only_root_gets_its_statistics_in_the_build_folder(make_gta5, tmp_path, monkeypatch):
    import os

    from thesislib import paths
    root = make_gta5(3)
    shrink_label(root)
    monkeypatch.setenv("THESISLIB_BUILD", str(tmp_path / "build"))
    monkeypatch.setattr(paths.os, "access", lambda p, mode: os.path.realpath(p) != os.path.realpath(root))
    result = check_data("gta5", root, progress=False)
    assert Path(result["file"]).parent == tmp_path / "build" / "checks" and not (root / "thesislib-check.json").exists()
    ds = GTA5(root)                                     # the loader finds the exclusion list there
    assert ds.check_file == Path(result["file"]) and len(ds) == 2
