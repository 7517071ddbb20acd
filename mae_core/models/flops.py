"""FLOPs of the MAE, measured with torch.utils.flop_counter (matmuls, convolutions, attention) and counted
analytically for the encoder, so that the two can be checked against each other."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count


def _cpu_sdpa_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)  # the counter passes shapes


def _cpu_sdpa_backward_flops(grad_out, query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


# torch's counter knows the CUDA attention kernels but not the CPU flash kernel that SDPA dispatches to on a CPU
CPU_ATTENTION = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    CPU_ATTENTION = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops,
                     torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flops}


def measure_flops(fn, *args, **kwargs) -> int:
    """FLOPs (2 per multiply-add) of everything `fn` runs, backward included if it calls backward."""
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def vit_encoder_flops(dim: int, depth: int, tokens: int, num_patches: int, patch_dim: int,
                      mlp_ratio: float = 4.0) -> int:
    """Analytic forward FLOPs of the encoder: patch embedding of all `num_patches` patches (the MAE embeds every
    patch, then drops the masked ones) and `depth` blocks over `tokens` tokens (cls included).

    Per block: qkv 2*T*D*3D, scores and weighted sum 2 * 2*T*T*D, proj 2*T*D*D, MLP 2 * 2*T*D*(r*D).
    """
    t, d, hid = tokens, dim, int(dim * mlp_ratio)
    block = 2 * t * d * 3 * d + 2 * 2 * t * t * d + 2 * t * d * d + 2 * 2 * t * d * hid
    return 2 * num_patches * d * patch_dim + depth * block


def encoder_flops(model, img_size: int, in_chans: int, mask_ratio: float | None = None) -> int:
    """Measured forward FLOPs of ``model.forward_encoder`` on one image (random masking at the model's ratio)."""
    x = torch.zeros(1, in_chans, img_size, img_size, device=next(model.parameters()).device)
    ratio = model.mask_ratio if mask_ratio is None else mask_ratio
    with torch.no_grad():
        return measure_flops(model.forward_encoder, x, ratio)


def pretrain_flops(model, img_size: int, in_chans: int) -> int:
    """Measured FLOPs of one pretraining step per image: forward (target included) + backward."""
    x = torch.randn(2, in_chans, img_size, img_size, device=next(model.parameters()).device)

    def step():
        model(x)[0].backward()
    flops = measure_flops(step)
    model.zero_grad(set_to_none=True)
    return flops // 2
