"""The pretraining engine (:mod:`.trainer`) and what every trainer shares: the pretraining config
(:mod:`.pretrain_config`), the schedule (:mod:`.schedule`), layer-wise lr decay (:mod:`.lr_decay`), the
distributed set-up (:mod:`.distributed`), metric logs (:mod:`.metrics_log`) and reconstruction pictures
(:mod:`.visualize`). The names below are imported on first use."""
from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {"param_groups_lrd": ".lr_decay", "PretrainConfig": ".pretrain_config", "WarmupCosine": ".schedule",
            "build_mae": ".trainer", "pretrain": ".trainer"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["PretrainConfig", "WarmupCosine", "build_mae", "param_groups_lrd", "pretrain"]

if TYPE_CHECKING:
    from .lr_decay import param_groups_lrd
    from .pretrain_config import PretrainConfig
    from .schedule import WarmupCosine
    from .trainer import build_mae, pretrain
