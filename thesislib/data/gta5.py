"""GTA5 (Richter et al. 2016): ROOT/images/NNNNN.png + ROOT/labels/NNNNN.png, labels palettised with
Cityscapes label ids as palette indices (read with PIL, never as colours)."""
from pathlib import Path

from thesislib.data.common import Pair, SegmentationSet, layout_error, match_pairs

LAYOUT = "ROOT/images/NNNNN.png and ROOT/labels/NNNNN.png (GTA5 layout)"


def list_pairs(root) -> list[Pair]:
    """All image/label pairs under a GTA5-layout root (a missing partner is None)."""
    root = Path(root)
    images = sorted((root / "images").glob("*.png"))
    if not (root / "labels").is_dir() or not images:
        what = "does not exist" if not root.is_dir() else "has no images/*.png and labels/ folder"
        raise layout_error(root, what, LAYOUT,
                           "pass the folder that holds images/ and labels/ (unpack every GTA5 part into them)")
    labels = sorted((root / "labels").glob("*.png"))
    return match_pairs(root, images, labels, key_image=lambda p: p.name, key_label=lambda p: p.name,
                       image_for=lambda p: root / "images" / p.name)


class GTA5(SegmentationSet):
    """The GTA5 set (or any set in its layout, e.g. a translated copy); see SegmentationSet."""
    kind, layout = "gta5", LAYOUT

    def __init__(self, root, size=None, transform=None, cache_mb=0, check_file=None, native_labels=False):
        super().__init__(root, list_pairs(root), size, transform, cache_mb, check_file, native_labels)
