"""Datasets (GTA5, Cityscapes, pseudo-labeled), joint transforms and the check-data scan."""
from thesislib.data.check import check_data, load_class_counts
from thesislib.data.cityscapes import Cityscapes
from thesislib.data.common import DataLayoutError, PseudoLabeled
from thesislib.data.gta5 import GTA5
from thesislib.data.transforms import WeightMap, train_transform

__all__ = ["GTA5", "Cityscapes", "PseudoLabeled", "DataLayoutError", "WeightMap", "train_transform",
           "check_data", "load_class_counts"]
