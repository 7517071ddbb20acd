"""Checkpoints: atomic writes (:mod:`.atomic`), the one strict loader (:mod:`.io`), encoders from any MAE checkpoint
(:mod:`.pretrained`), converters between layouts (:mod:`.convert`). The names below are imported on first use."""
from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {"CheckpointMismatchError": ".io", "LoadReport": ".io", "atomic_save": ".io", "load_weights": ".io",
            "read_state_dict": ".io", "load_encoder": ".pretrained"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["CheckpointMismatchError", "LoadReport", "atomic_save", "load_encoder", "load_weights", "read_state_dict"]

if TYPE_CHECKING:
    from .io import CheckpointMismatchError, LoadReport, atomic_save, load_weights, read_state_dict
    from .pretrained import load_encoder
