"""Checkpoint conversion between this project's layout and the official MAE, timm, detectron2 ViTDet, mmseg and
Hugging Face layouts, plus patch-size resampling. See docs/interop.md."""
from .common import ConversionError, ConversionReport
from .files import convert_file, read_any, sidecar_path
from .layouts import LAYOUTS, UnknownLayoutError, check_layout, convert_state_dict, detect_layout
from .patch_resample import resample_patch_embed, resample_patch_size

__all__ = ["ConversionError", "ConversionReport", "LAYOUTS", "UnknownLayoutError", "check_layout", "convert_file",
           "convert_state_dict", "detect_layout", "read_any", "resample_patch_embed", "resample_patch_size",
           "sidecar_path"]
