"""ADE20K semantic segmentation in MMSegmentation with the project's ViT (UperNet + FCN auxiliary head).

Importing this package installs the ``mmcv.ops`` stand-in (only where mmcv has no compiled ops) *before* mmseg is
imported, then registers ``MAEViT`` (mmseg MODELS) and ``MAELayerDecayConstructor`` (OPTIM_WRAPPER_CONSTRUCTORS).
"""
from .compat import ensure_mmcv_ops

ensure_mmcv_ops()

from .backbone import MAEViT  # noqa: E402  (registration needs the stand-in above)
from .optim import MAELayerDecayConstructor  # noqa: E402

__all__ = ["MAEViT", "MAELayerDecayConstructor", "ensure_mmcv_ops"]
