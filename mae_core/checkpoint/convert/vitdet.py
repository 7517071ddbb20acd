"""detectron2 ViTDet's layout: the encoder under ``backbone.net.``, the simple feature pyramid as ``backbone.simfp_*``.

ViTDet's ViT has no cls token and no final norm. With ``pretrain_use_cls_token=True`` its ``pos_embed`` keeps the
pretraining table [1, 1 + N, D] (cls row included) and drops the first row when it adds positions (detectron2's
``get_abs_pos``), so our table is copied as it is. ``attn.rel_pos_h/w`` have the same names and meaning as ours
(``rel_pos="decomposed"``). Pyramid, RPN and ROI heads are not encoder weights: dropped on the way in, not made
on the way out (detectron2 initializes them).
"""
from __future__ import annotations

from mae_core.checkpoint.convert.common import (
    BLOCK_SUBKEYS,
    ConversionReport,
    StateDict,
    fold_layer_scale,
    require_absent,
    split_decoder,
)

NAME = "vitdet"
PREFIX = "backbone.net."
ENCODER = (r"backbone\.net\.patch_embed\.proj\.(weight|bias)", r"backbone\.net\.pos_embed",
           *(rf"backbone\.net\.blocks\.\d+\.{s}" for s in BLOCK_SUBKEYS if not s.startswith("ls")))
DETECTION = (r"backbone\.(simfp_|fpn_|top_block).+", r"(proposal_generator|roi_heads)\..+", r"pixel_(mean|std)")
PATTERNS = ENCODER + DETECTION
SIGNATURE = r"backbone\.net\.patch_embed\.proj\.weight"


def to_ours(sd: StateDict, report: ConversionReport) -> StateDict:
    out = {}
    for k, v in sd.items():
        if k.startswith(PREFIX):
            out[k[len(PREFIX):]] = v
            report.renamed += 1
        else:
            report.drop(k, "detection pyramid / heads: not part of the encoder")
    d = out["patch_embed.proj.weight"].shape[0]
    like = out["patch_embed.proj.weight"]
    out["cls_token"] = like.new_zeros(1, 1, d)
    report.create("cls_token", "zeros: ViTDet has no cls token (its pos_embed row 0 is kept for ours)")
    out["fc_norm.weight"], out["fc_norm.bias"] = like.new_ones(d), like.new_zeros(d)
    report.create("fc_norm.weight", "ones/zeros: ViTDet has no final norm, so ours gets none on the tokens "
                  "(global_pool='avg' with an identity fc_norm)")
    report.note("ViTDet runs without a cls token: our patch tokens equal ViTDet's only when our ViT runs without "
                "the cls token (as the detectron2 adapter does)")
    return out


def from_ours(sd: StateDict, cfg: dict, report: ConversionReport) -> tuple[StateDict, dict]:
    require_absent(sd, ("relative_position_bias_table",), NAME, "BEiT relative position bias table")
    enc, dec = split_decoder(fold_layer_scale(sd, report, NAME))
    for k in dec:
        report.drop(k, "ViTDet has no MAE decoder")
    out = {}
    for k, v in enc.items():
        if k == "cls_token":
            report.drop(k, "ViTDet has no cls token (pretrain_use_cls_token=True keeps only its position row)")
        elif k.startswith(("norm.", "fc_norm.", "head.")):
            report.drop(k, "ViTDet applies no final norm and has no classification head")
        else:
            out[PREFIX + k] = v
            report.renamed += 1
    report.note("backbone.simfp_* (simple feature pyramid) and the detection heads are not created: "
                "detectron2 initializes them")
    kwargs = dict(img_size=cfg["img_size"][0], patch_size=cfg["patch_size"], embed_dim=cfg["embed_dim"],
                  depth=cfg["depth"], num_heads=cfg["num_heads"], mlp_ratio=cfg.get("mlp_ratio", 4.0),
                  qkv_bias=cfg.get("qkv_bias", True), use_rel_pos=cfg.get("rel_pos") == "decomposed",
                  window_size=cfg.get("window_size", 0), window_block_indexes=list(cfg.get("window_block_indexes", [])),
                  pretrain_img_size=cfg["img_size"][0], pretrain_use_cls_token=True)
    return out, {"vitdet": {"net": kwargs}}
