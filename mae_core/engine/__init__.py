"""The pretraining engine (:mod:`.trainer`) and what every trainer shares: the pretraining config
(:mod:`.pretrain_config`), the schedule (:mod:`.schedule`), layer-wise lr decay (:mod:`.lr_decay`), the
distributed set-up (:mod:`.distributed`), metric logs (:mod:`.metrics_log`) and reconstruction pictures
(:mod:`.visualize`)."""
from .lr_decay import param_groups_lrd
from .pretrain_config import PretrainConfig
from .schedule import WarmupCosine
from .trainer import build_mae, pretrain

__all__ = ["PretrainConfig", "WarmupCosine", "build_mae", "param_groups_lrd", "pretrain"]
