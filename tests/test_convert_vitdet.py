"""detectron2 ViTDet layout: the converted weights, run with ViTDet's semantics (no cls token, the cls row of
pos_embed dropped at use, decomposed relative position, window blocks), give our ViT's patch tokens."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from convert_utils import assert_close, images, micro_vit

from mae_core.checkpoint.convert import convert_state_dict, detect_layout
from mae_core.models.vit import VisionTransformer

KW = dict(rel_pos="decomposed", window_size=4, window_block_indexes=(0,))


def _rel(table: torch.Tensor, size: int) -> torch.Tensor:
    """[2S-1, C] -> [S, S, C]: the row for query i and key j is i - j + S - 1."""
    i = torch.arange(size)
    return table[i[:, None] - i[None, :] + size - 1]


def _attn(x: torch.Tensor, sd: dict, p: str, heads: int) -> torch.Tensor:
    """x [B, H, W, D] -> [B, H, W, D], written after detectron2's ViTDet attention (explicit softmax)."""
    b, h, w, d = x.shape
    qkv = F.linear(x.reshape(b, h * w, d), sd[p + "qkv.weight"], sd[p + "qkv.bias"])
    q, k, v = qkv.reshape(b, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4).reshape(3, b * heads, h * w, -1)
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    r_q = q.reshape(b * heads, h, w, -1)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, _rel(sd[p + "rel_pos_h"], h))
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, _rel(sd[p + "rel_pos_w"], w))
    attn = (attn.view(-1, h, w, h, w) + rel_h[..., :, None] + rel_w[..., None, :]).view(-1, h * w, h * w)
    out = (attn.softmax(-1) @ v).view(b, heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, d)
    return F.linear(out, sd[p + "proj.weight"], sd[p + "proj.bias"])


def vitdet_forward(sd: dict, x: torch.Tensor, heads: int, window: int, window_blocks: tuple) -> torch.Tensor:
    """Images [B, 3, H, W] -> last block's tokens [B, h, w, D] from a ``backbone.net.*`` state dict."""
    sd = {k[len("backbone.net."):]: v for k, v in sd.items() if k.startswith("backbone.net.")}
    x = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=4).permute(0, 2, 3, 1)
    b, h, w, d = x.shape
    x = x + sd["pos_embed"][:, 1:].reshape(1, h, w, d)  # get_abs_pos: drop the cls row (same grid, no resize)
    ln = lambda t, n: F.layer_norm(t, (d,), sd[n + ".weight"], sd[n + ".bias"], eps=1e-6)  # noqa: E731
    for i in range(1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))):
        p = f"blocks.{i}."
        y = ln(x, p + "norm1")
        if i in window_blocks:  # h, w are multiples of the window here: no padding
            y = y.reshape(b, h // window, window, w // window, window, d).permute(0, 1, 3, 2, 4, 5)
            y = _attn(y.reshape(-1, window, window, d), sd, p + "attn.", heads)
            y = y.reshape(b, h // window, w // window, window, window, d).permute(0, 1, 3, 2, 4, 5)
            y = y.reshape(b, h, w, d)
        else:
            y = _attn(y, sd, p + "attn.", heads)
        x = x + y
        y = F.gelu(F.linear(ln(x, p + "norm2"), sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
        x = x + F.linear(y, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    return x


def ours_without_cls(model: VisionTransformer, x: torch.Tensor) -> torch.Tensor:
    """Our blocks on the patch tokens only (how a detection backbone runs the ViT) -> [B, h, w, D]."""
    tokens, grid = model.prepare_tokens(x)
    tokens = tokens[:, 1:]
    for blk in model.blocks:
        tokens = blk(tokens, grid, 0)
    return tokens.reshape(x.shape[0], grid[0], grid[1], -1)


def test_ours_to_vitdet_matches_vitdet_semantics():
    src = micro_vit(**KW)
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "vitdet", {"num_heads": 2, **KW})
    assert all(k.startswith("backbone.net.") for k in out) and out["backbone.net.pos_embed"].shape == (1, 65, 64)
    assert "cls_token" in report.dropped and "norm.weight" in report.dropped
    assert manifest["vitdet"]["net"]["window_block_indexes"] == [0]
    x = images()
    with torch.no_grad():
        assert_close(vitdet_forward(out, x, 2, 4, (0,)), ours_without_cls(src, x))


def test_vitdet_to_ours_drops_the_detector_and_round_trips():
    src = micro_vit(**KW)
    out, _, _ = convert_state_dict(src.state_dict(), "ours", "vitdet", {"num_heads": 2})
    out["backbone.simfp_2.0.weight"] = torch.zeros(8, 64, 2, 2)
    out["roi_heads.box_predictor.cls_score.weight"] = torch.zeros(81, 1024)
    assert detect_layout(out) == "vitdet"
    ours, manifest, report = convert_state_dict(out, "vitdet", "ours", {"num_heads": 2})
    assert "backbone.simfp_2.0.weight" in report.dropped and "cls_token" in report.created
    cfg = manifest["encoder"]  # window settings recovered from the sizes of the relative-position tables
    assert (cfg["window_size"], cfg["window_block_indexes"], cfg["img_size"]) == (4, [0], [32, 32])
    model = VisionTransformer(**cfg).eval()
    model.load_state_dict(ours, strict=True)
    x = images()
    with torch.no_grad():
        assert_close(ours_without_cls(model, x), ours_without_cls(src, x), atol=0)
    again, _, _ = convert_state_dict(ours, "ours", "vitdet", cfg)
    assert all(torch.equal(again[k], out[k]) for k in again) and len(again) == len(out) - 2
