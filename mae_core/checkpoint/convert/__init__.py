"""Checkpoint conversion between this project's layout and the official MAE, timm, detectron2 ViTDet, mmseg and
Hugging Face layouts, plus patch-size resampling. See docs/interop.md."""
from mae_core.checkpoint.convert.common import ConversionError, ConversionReport
from mae_core.checkpoint.convert.files import convert_file, read_any, sidecar_path
from mae_core.checkpoint.convert.layouts import (
           LAYOUTS,
           UnknownLayoutError,
           check_layout,
           convert_state_dict,
           detect_layout,
)
from mae_core.checkpoint.convert.patch_resample import resample_patch_embed, resample_patch_size

__all__ = ["ConversionError", "ConversionReport", "LAYOUTS", "UnknownLayoutError", "check_layout", "convert_file",
           "convert_state_dict", "detect_layout", "read_any", "resample_patch_embed", "resample_patch_size",
           "sidecar_path"]
