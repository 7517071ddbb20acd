"""Reconstruction targets behind one interface (:class:`ReconstructionTarget`): pixels and per-patch normalised
pixels (:mod:`.base`), PCA coefficients (:mod:`.pca`), dVAE tokens (:mod:`.token`, with the tokenizers it loads in
:mod:`.tokenizers`) and HOG (:mod:`.hog`). Targets beyond pixels register themselves on first use."""
from .base import TARGETS, PixelTarget, ReconstructionTarget, build_target, register_target, target_class

__all__ = ["TARGETS", "PixelTarget", "ReconstructionTarget", "build_target", "register_target", "target_class"]
