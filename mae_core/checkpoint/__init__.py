"""Checkpoints: atomic writes and the one strict loader (:mod:`.io`), encoders from any MAE checkpoint
(:mod:`.pretrained`), converters between layouts (:mod:`.convert`)."""
from .io import CheckpointMismatchError, LoadReport, atomic_save, load_weights, read_state_dict
from .pretrained import load_encoder

__all__ = ["CheckpointMismatchError", "LoadReport", "atomic_save", "load_encoder", "load_weights", "read_state_dict"]
