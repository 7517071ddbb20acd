"""Converts a ViT / MAE checkpoint between layouts; writes OUT and OUT.json (console script: mae-convert).

    python tools/convert_checkpoint.py --from auto --to timm mae_pretrain_vit_base.pth vit_base_timm.pth
    python tools/convert_checkpoint.py --from official --to vitdet --patch-size 16 mae_pretrain_vit_huge.pth h16.pth

Layouts: ours, official, timm, vitdet, mmseg, hf (see docs/interop.md).
"""
import sys

from mae_core.cli import convert_main

if __name__ == "__main__":
    sys.exit(convert_main())
