"""Shared helpers for the mmseg tests (small models, checkpoints in this project's and the official layout)."""
from pathlib import Path

import torch

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "ade20k" / "smoke.py"
BASE = Path(__file__).resolve().parents[1] / "configs" / "ade20k" / "upernet_mae_vit_base_160k.py"
MICRO = dict(img_size=64, patch_size=4, embed_dim=64, depth=4, num_heads=2, out_indices=(0, 1, 2, 3))


def build_segmentor(cfg_path=SMOKE, **backbone):
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(cfg_path)
    cfg.model.backbone.update(backbone)
    return MODELS.build(cfg.model), cfg


def save_mae_checkpoint(path, encoder="vit_micro_patch4", full=True, seed=0, **kwargs):
    """A pretrained-looking MAE checkpoint: random weights, perturbed so no tensor is at its init value."""
    from mae_core.models.mae import create_mae
    torch.manual_seed(seed)
    mae = create_mae(encoder, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, norm_pix_loss=True,
                     **kwargs)
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(0.02 * torch.randn_like(p))
    sd = mae.state_dict() if full else mae.encoder_state_dict()
    obj = {"model": sd, "manifest": {"encoder": mae.encoder_config()}} if full else {"model": sd}
    torch.save(obj, path)
    return mae
