"""The 19 Cityscapes train classes, taken from the official table in cityscapesscripts."""
import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

NUM_CLASSES = 19
IGNORE_INDEX = 255

_TRAIN = sorted((l for l in _CS_LABELS if 0 <= l.trainId < NUM_CLASSES), key=lambda l: l.trainId)
CLASS_NAMES: list[str] = [l.name for l in _TRAIN]
CLASS_IDS: list[int] = [l.id for l in _TRAIN]          # label id of each train id
PALETTE = np.array([l.color for l in _TRAIN], dtype=np.uint8)  # (19, 3) Cityscapes colours

ID_TO_TRAIN = np.full(256, IGNORE_INDEX, dtype=np.uint8)
for _l in _CS_LABELS:
    if 0 <= _l.id < 256 and 0 <= _l.trainId < NUM_CLASSES:
        ID_TO_TRAIN[_l.id] = _l.trainId
VALID_IDS = frozenset(l.id for l in _CS_LABELS if 0 <= l.id < 256)  # ids that may appear in a label PNG


def to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map an array of Cityscapes label ids to train ids (everything else -> 255)."""
    return ID_TO_TRAIN[label_ids]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """RGB image (H, W, 3) of a train-id map in the Cityscapes palette; ignored pixels are black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = PALETTE
    return lut[np.asarray(train_ids, dtype=np.uint8)]


def label_id_palette() -> list[int]:
    """A flat 768-entry PIL palette that shows a palettised label-id PNG in Cityscapes colours."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for l in _CS_LABELS:
        if 0 <= l.id < 256:
            pal[l.id] = l.color
    return pal.flatten().tolist()
