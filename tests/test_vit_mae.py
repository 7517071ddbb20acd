import pytest
import timm.models.vision_transformer as timm_vit
import torch

from mae_core.models.mae import MaskedAutoencoder, create_mae, mae_vit_base_patch16
from mae_core.models.vit import VisionTransformer, create_vit


def micro_mae(**kw) -> MaskedAutoencoder:
    args = dict(decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=4, norm_pix_loss=True)
    args.update(kw)
    return create_mae("vit_micro_patch4", **args)


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_vit_equals_timm_on_same_weights(pool):
    ours = create_vit("vit_micro_patch4", num_classes=7, global_pool=pool).eval()
    ref = timm_vit.VisionTransformer(img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=2, num_classes=7,
                                     global_pool=pool).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(ours(x), ref(x))
    torch.testing.assert_close(ours.forward_features(x), ref.forward_features(x))


def test_any_image_size_and_intermediates():
    vit = create_vit("vit_micro_patch4")
    feats = vit.forward_intermediates(torch.randn(2, 3, 48, 32), indices=[0, 1])
    assert [f.shape for f in feats] == [torch.Size([2, 64, 12, 8])] * 2
    assert vit.forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 1 + 256, 64)
    with pytest.raises(ValueError, match="multiple of the patch size"):
        vit(torch.randn(1, 3, 30, 32))


def test_mae_forward_contract():
    mae = micro_mae()
    imgs = torch.randn(2, 3, 32, 32)
    loss, pred, mask = mae(imgs, mask_ratio=0.75)
    assert pred.shape == (2, 64, 48) and mask.shape == (2, 64)
    assert torch.all(mask.sum(1) == 48) and loss.ndim == 0 and torch.isfinite(loss)
    noise = torch.rand(2, 64)
    torch.testing.assert_close(mae(imgs, noise=noise)[0], mae(imgs, noise=noise)[0])


def test_loss_ignores_visible_patches():
    mae = micro_mae()
    imgs = torch.randn(2, 3, 32, 32)
    latent, masking, grid = mae.forward_encoder(imgs, 0.75)
    pred = mae.forward_decoder(latent, masking, grid).detach().requires_grad_(True)
    mae.forward_loss(imgs, pred, masking.mask).backward()
    visible = masking.mask == 0
    assert torch.all(pred.grad[visible] == 0)
    assert pred.grad[~visible].abs().sum() > 0


def test_every_parameter_gets_a_gradient():
    mae = micro_mae()
    mae(torch.randn(2, 3, 32, 32))[0].backward()
    no_grad = [n for n, p in mae.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert no_grad == []
    assert not mae.pos_embed.requires_grad and not mae.decoder_pos_embed.requires_grad


def test_init_follows_the_reference():
    mae = micro_mae()
    assert torch.all(mae.pos_embed[0, 0] == 0) and mae.pos_embed[0, 1:].abs().max() <= 1.0
    assert abs(mae.cls_token.std().item() - 0.02) < 0.01
    assert torch.all(mae.blocks[0].norm1.weight == 1) and torch.all(mae.blocks[0].attn.qkv.bias == 0)


def _official_base_shapes() -> dict[str, tuple]:
    """Key names and shapes of the reference code's mae_vit_base_patch16_dec512d8b (encoder + decoder)."""
    shapes = {"cls_token": (1, 1, 768), "pos_embed": (1, 197, 768), "patch_embed.proj.weight": (768, 3, 16, 16),
              "patch_embed.proj.bias": (768,), "norm.weight": (768,), "norm.bias": (768,),
              "mask_token": (1, 1, 512), "decoder_pos_embed": (1, 197, 512), "decoder_embed.weight": (512, 768),
              "decoder_embed.bias": (512,), "decoder_norm.weight": (512,), "decoder_norm.bias": (512,),
              "decoder_pred.weight": (768, 512), "decoder_pred.bias": (768,)}
    for prefix, depth, d in (("blocks", 12, 768), ("decoder_blocks", 8, 512)):
        for i in range(depth):
            b = f"{prefix}.{i}."
            shapes.update({b + "norm1.weight": (d,), b + "norm1.bias": (d,), b + "attn.qkv.weight": (3 * d, d),
                           b + "attn.qkv.bias": (3 * d,), b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
                           b + "norm2.weight": (d,), b + "norm2.bias": (d,), b + "mlp.fc1.weight": (4 * d, d),
                           b + "mlp.fc1.bias": (4 * d,), b + "mlp.fc2.weight": (d, 4 * d), b + "mlp.fc2.bias": (d,)})
    return shapes


@pytest.mark.slow
def test_official_checkpoint_layout_loads_strict(tmp_path):
    shapes = _official_base_shapes()
    full = {k: torch.randn(s) * 0.02 for k, s in shapes.items()}
    mae = mae_vit_base_patch16(norm_pix_loss=True)
    mae.load_state_dict(full, strict=True)                        # mae_visualize_vit_base.pth layout
    encoder_only = {k: v for k, v in full.items() if not k.startswith(("decoder", "mask_token"))}
    torch.save({"model": encoder_only}, tmp_path / "mae_pretrain_vit_base.pth")
    from mae_core.checkpoint.pretrained import load_encoder
    vit, report = load_encoder(tmp_path / "mae_pretrain_vit_base.pth")   # mae_pretrain_vit_base.pth layout
    assert report.unexpected == [] and report.missing == []
    VisionTransformer(embed_dim=768, depth=12, num_heads=12).load_state_dict(encoder_only, strict=True)
    torch.testing.assert_close(vit.blocks[3].attn.qkv.weight, full["blocks.3.attn.qkv.weight"])


def test_cpu_bf16_attention_path_matches_sdpa():
    import torch.nn.functional as F

    from mae_core.models.attention import attend
    q, k, v = (torch.randn(2, 3, 17, 16) for _ in range(3))
    bias = torch.randn(1, 3, 17, 17)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = attend(q.bfloat16(), k.bfloat16(), v.bfloat16(), bias.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=5e-2, rtol=5e-2)
    torch.testing.assert_close(attend(q, k, v, bias), ref)


def test_cpu_attention_is_explicit_for_short_sequences_and_sdpa_for_long_ones(monkeypatch):
    """On a CPU up to CPU_EXPLICIT_MAX_TOKENS tokens the explicit products (faster there) give SDPA's output and
    gradients; longer sequences go to SDPA."""
    import torch.nn.functional as F

    from mae_core.models import attention
    q, k, v = (torch.randn(2, 3, 50, 16, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, 3, 50, 50)
    out = attention.attend(q, k, v, bias)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    torch.testing.assert_close(out, ref)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", lambda *a, **kw: calls.append(1) or sdpa(*a, **kw))
    attention.attend(q, k, v, bias)
    assert calls == []
    n = attention.CPU_EXPLICIT_MAX_TOKENS + 1
    attention.attend(*(torch.randn(1, 2, n, 8) for _ in range(3)))
    assert calls == [1]
