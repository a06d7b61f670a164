"""thesislib: reproduction package for "Self-supervised learning with an image-based synthetic teacher model"."""
__version__ = "0.1.0"
