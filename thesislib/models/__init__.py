"""Networks: DeepLabV3+ segmenter, CycleGAN generator/discriminator, domain discriminators."""
from thesislib.models.cyclegan import ImagePool, NLayerDiscriminator, ResnetBlock, ResnetGenerator, define_D, define_G
from thesislib.models.discriminators import FeatureDiscriminator, OutputDiscriminator
from thesislib.models.segmentation import Segmenter, add_drop_path, build_segmenter

__all__ = [
    "FeatureDiscriminator",
    "ImagePool",
    "NLayerDiscriminator",
    "OutputDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "Segmenter",
    "add_drop_path",
    "build_segmenter",
    "define_D",
    "define_G",
]
