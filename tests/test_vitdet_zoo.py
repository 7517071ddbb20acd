"""ViTDet model-zoo checkpoints: a state dict laid out by upstream detectron2's ViTDet (``backbone.net.*`` without cls
token or final norm, a pretraining-size ``pos_embed`` with a cls row, ``backbone.simfp_2..5``, RPN, ROI heads) loads
strictly into our detector and gives the outputs of a reference forward written here from upstream's published math
(absolute positions interpolated at run time, window partition with padding, decomposed relative position, the simple
feature pyramid). Micro model: patch 16 at 128 px (grid 8), window 3 (padded to 9), 2 heads of 32."""
from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from detectron2.config import instantiate  # noqa: E402

from mae_core.checkpoint.convert.files import convert_file  # noqa: E402
from mae_core.checkpoint.io import CheckpointMismatchError  # noqa: E402
from transfer.detectron2.lazy import mask_rcnn, vitdet_backbone  # noqa: E402
from transfer.detectron2.weights import load_mae_into_detector, load_pretrained  # noqa: E402

D, HEADS, DEPTH, PATCH, IMG, WIN, PRE = 64, 2, 2, 16, 128, 3, 64   # PRE: upstream's pretrain_img_size
WINDOW_BLOCKS = (0,)


def detector():
    net = vitdet_backbone("vit_micro_patch4", img_size=IMG, window_size=WIN, global_blocks=(1,), drop_path_rate=0.0,
                          out_channels=16, patch_size=PATCH)
    return instantiate(mask_rcnn(net, num_classes=3, channels=16, box_conv_dims=(16,), box_fc_dims=(32,),
                                 mask_conv_dims=(16,), config_name="test_vitdet_zoo")).eval()


def upstream_state_dict(model, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under upstream ViTDet's names and shapes (written out here, not read from our model); the
    RPN / ROI head keys are detectron2's own classes in both, so they are taken from the model's key list."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"patch_embed.proj.weight": (D, 3, PATCH, PATCH), "patch_embed.proj.bias": (D,),
              "pos_embed": (1, 1 + (PRE // PATCH) ** 2, D)}
    for i in range(DEPTH):
        side = WIN if i in WINDOW_BLOCKS else IMG // PATCH
        shapes.update({f"blocks.{i}.norm1.weight": (D,), f"blocks.{i}.norm1.bias": (D,),
                       f"blocks.{i}.attn.qkv.weight": (3 * D, D), f"blocks.{i}.attn.qkv.bias": (3 * D,),
                       f"blocks.{i}.attn.proj.weight": (D, D), f"blocks.{i}.attn.proj.bias": (D,),
                       f"blocks.{i}.attn.rel_pos_h": (2 * side - 1, D // HEADS),
                       f"blocks.{i}.attn.rel_pos_w": (2 * side - 1, D // HEADS),
                       f"blocks.{i}.norm2.weight": (D,), f"blocks.{i}.norm2.bias": (D,),
                       f"blocks.{i}.mlp.fc1.weight": (4 * D, D), f"blocks.{i}.mlp.fc1.bias": (4 * D,),
                       f"blocks.{i}.mlp.fc2.weight": (D, 4 * D), f"blocks.{i}.mlp.fc2.bias": (D,)})
    sd = {"backbone.net." + k: v for k, v in shapes.items()}
    c = 16

    def conv_ln(name, cin, k):
        return {f"{name}.weight": (c, cin, k, k), f"{name}.norm.weight": (c,), f"{name}.norm.bias": (c,)}
    fp = {"simfp_2.0.weight": (D, D // 2, 2, 2), "simfp_2.0.bias": (D // 2,), "simfp_2.1.weight": (D // 2,),
          "simfp_2.1.bias": (D // 2,), "simfp_2.3.weight": (D // 2, D // 4, 2, 2), "simfp_2.3.bias": (D // 4,),
          **conv_ln("simfp_2.4", D // 4, 1), **conv_ln("simfp_2.5", c, 3),
          "simfp_3.0.weight": (D, D // 2, 2, 2), "simfp_3.0.bias": (D // 2,), **conv_ln("simfp_3.1", D // 2, 1),
          **conv_ln("simfp_3.2", c, 3), **conv_ln("simfp_4.0", D, 1), **conv_ln("simfp_4.1", c, 3),
          **conv_ln("simfp_5.1", D, 1), **conv_ln("simfp_5.2", c, 3)}
    sd.update({"backbone." + k: v for k, v in fp.items()})
    own = model.state_dict()
    sd.update({k: tuple(v.shape) for k, v in own.items() if k.startswith(("proposal_generator.", "roi_heads."))})
    out = {}
    for k, shape in sd.items():
        t = torch.randn(shape, generator=g) * 0.2
        out[k] = t + 1 if k.endswith(("norm1.weight", "norm2.weight", "norm.weight", "simfp_2.1.weight")) else t
    return out


# ------------------------------------------------------------------ reference forward from upstream's math
def ln2d(x, w, b):
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    return w[:, None, None] * (x - u) / torch.sqrt(s + 1e-6) + b[:, None, None]


def rel_table(table, q, k):
    """get_rel_pos: the [q, k, C] table for relative distances (resized linearly when its length differs)."""
    n = 2 * max(q, k) - 1
    if table.shape[0] != n:
        table = F.interpolate(table.t()[None], size=n, mode="linear")[0].t()
    coords = torch.arange(q)[:, None] * max(k / q, 1.0) - torch.arange(k)[None, :] * max(q / k, 1.0)
    return table[(coords + (k - 1) * max(q / k, 1.0)).long()]


def attention(x, sd, p):
    b, h, w, _ = x.shape
    qkv = F.linear(x, sd[p + "qkv.weight"], sd[p + "qkv.bias"]).reshape(b, h * w, 3, HEADS, -1)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(3, b * HEADS, h * w, -1).unbind(0)
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    r_q = q.reshape(b * HEADS, h, w, -1)
    rh = torch.einsum("bhwc,hkc->bhwk", r_q, rel_table(sd[p + "rel_pos_h"], h, h))
    rw = torch.einsum("bhwc,wkc->bhwk", r_q, rel_table(sd[p + "rel_pos_w"], w, w))
    attn = (attn.view(-1, h, w, h, w) + rh[..., None] + rw[..., None, :]).view(-1, h * w, h * w)
    out = (attn.softmax(-1) @ v).view(b, HEADS, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return F.linear(out, sd[p + "proj.weight"], sd[p + "proj.bias"])


def block(x, sd, p, window):
    b, h, w, d = x.shape
    y = F.layer_norm(x, (d,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
    if window:
        ph, pw = (window - h % window) % window, (window - w % window) % window
        y = F.pad(y, (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w + pw
        y = y.view(b, hp // window, window, wp // window, window, d).permute(0, 1, 3, 2, 4, 5)
        y = attention(y.reshape(-1, window, window, d), sd, p + "attn.")
        y = y.view(b, hp // window, wp // window, window, window, d).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(b, hp, wp, d)[:, :h, :w]
    else:
        y = attention(y, sd, p + "attn.")
    x = x + y
    y = F.layer_norm(x, (d,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6)
    y = F.linear(F.gelu(F.linear(y, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])), sd[p + "mlp.fc2.weight"],
                 sd[p + "mlp.fc2.bias"])
    return x + y


def reference_backbone(sd, x):
    net = {k[len("backbone.net."):]: v for k, v in sd.items() if k.startswith("backbone.net.")}
    t = F.conv2d(x, net["patch_embed.proj.weight"], net["patch_embed.proj.bias"], stride=PATCH).permute(0, 2, 3, 1)
    h, w = t.shape[1:3]
    pos = net["pos_embed"][:, 1:]                                       # get_abs_pos: drop the cls row, interpolate
    side = int(pos.shape[1] ** 0.5)
    pos = F.interpolate(pos.reshape(1, side, side, -1).permute(0, 3, 1, 2), size=(h, w), mode="bicubic",
                        align_corners=False).permute(0, 2, 3, 1)
    t = t + pos
    for i in range(DEPTH):
        t = block(t, net, f"blocks.{i}.", WIN if i in WINDOW_BLOCKS else 0)
    feat = t.permute(0, 3, 1, 2)
    fp = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.simfp_")}

    def conv_ln(y, name, pad):
        return ln2d(F.conv2d(y, fp[name + ".weight"], padding=pad), fp[name + ".norm.weight"], fp[name + ".norm.bias"])

    def tail(y, s, first):
        return conv_ln(conv_ln(y, f"simfp_{s}.{first}", 0), f"simfp_{s}.{first + 1}", 1)
    y2 = F.conv_transpose2d(feat, fp["simfp_2.0.weight"], fp["simfp_2.0.bias"], stride=2)
    y2 = F.gelu(ln2d(y2, fp["simfp_2.1.weight"], fp["simfp_2.1.bias"]))
    y2 = F.conv_transpose2d(y2, fp["simfp_2.3.weight"], fp["simfp_2.3.bias"], stride=2)
    out = {"p2": tail(y2, 2, 4),
           "p3": tail(F.conv_transpose2d(feat, fp["simfp_3.0.weight"], fp["simfp_3.0.bias"], stride=2), 3, 1),
           "p4": tail(feat, 4, 0), "p5": tail(F.max_pool2d(feat, 2, 2), 5, 1)}
    out["p6"] = F.max_pool2d(out["p5"], kernel_size=1, stride=2)
    return out


def save_pkl(sd: dict, path) -> None:
    """As detectron2's model zoo ships them: a pickle of numpy arrays under "model"."""
    with open(path, "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in sd.items()}, "__author__": "test"}, f)


def test_vitdet_zoo_checkpoint_loads_strictly_and_matches_upstream_math(tmp_path):
    model = detector()
    sd = upstream_state_dict(model)
    path = tmp_path / "model_final.pkl"
    save_pkl(sd, path)
    report = load_pretrained(model, path)
    assert report.unexpected == [] and report.resized == ["backbone.net.pos_embed"]
    assert sorted(report.missing) == ["backbone.net.cls_token", "backbone.net.norm.bias", "backbone.net.norm.weight"]
    own = model.state_dict()
    for k, v in sd.items():
        if k != "backbone.net.pos_embed":
            assert torch.equal(own[k], v), k                            # one to one, no renaming left to chance
    x = torch.randn(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, ref = model.backbone(x), reference_backbone(sd, x)
    assert list(ours) == ["p2", "p3", "p4", "p5", "p6"]
    for name in ref:
        torch.testing.assert_close(ours[name], ref[name], atol=2e-4, rtol=1e-4, msg=name)


def test_vitdet_zoo_extra_or_wrong_key_is_an_error(tmp_path):
    model = detector()
    sd = upstream_state_dict(model)
    sd["backbone.simfp_6.0.weight"] = torch.zeros(3)
    save_pkl(sd, tmp_path / "bad.pkl")
    with pytest.raises(CheckpointMismatchError, match="simfp_6"):
        load_pretrained(model, tmp_path / "bad.pkl")


def test_square_pad_and_inference_on_a_non_square_image():
    model = detector()
    image = torch.rand(3, 96, 128) * 255
    batch = model.preprocess_image([{"image": image}])
    assert batch.tensor.shape == (1, 3, IMG, IMG) and batch.image_sizes == [(96, 128)]
    torch.testing.assert_close(batch.tensor[..., 96:, :], torch.zeros(1, 3, 32, IMG))
    with torch.no_grad():
        out = model([{"image": image, "height": 96, "width": 128}])
    assert out[0]["instances"].image_size == (96, 128)


def test_converted_vitdet_encoder_loads_into_our_detector(tmp_path):
    """``convert_checkpoint --from vitdet --to ours`` output (cls token and fc_norm created) loads strictly and gives
    the same ViT weights as loading the ViTDet file directly."""
    direct, via_ours = detector(), detector()
    sd = upstream_state_dict(direct)
    torch.save({"model": sd}, tmp_path / "vitdet.pth")
    load_pretrained(direct, tmp_path / "vitdet.pth")
    convert_file(tmp_path / "vitdet.pth", tmp_path / "ours.pth", src="vitdet", dst="ours")
    report = load_mae_into_detector(via_ours, tmp_path / "ours.pth")
    assert report.unexpected == []
    a, b = direct.backbone.net.state_dict(), via_ours.backbone.net.state_dict()
    for k in a:
        if k not in ("cls_token", "norm.weight", "norm.bias"):
            torch.testing.assert_close(a[k], b[k], msg=k)
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():
        torch.testing.assert_close(direct.backbone.net.forward_patch_tokens(x)[0],
                                   via_ours.backbone.net.forward_patch_tokens(x)[0])
