"""Converts a ViT / MAE checkpoint between layouts; writes OUT and OUT.json (manifest + what was dropped/created).

    python tools/convert_checkpoint.py --from auto --to timm mae_pretrain_vit_base.pth vit_base_timm.pth
    python tools/convert_checkpoint.py --from official --to vitdet --patch-size 16 mae_pretrain_vit_huge.pth h16.pth

Layouts: ours, official, timm, vitdet, mmseg, hf (see docs/interop.md).
"""
from __future__ import annotations

import argparse
import logging
import sys

from mae_core.checkpoint.convert import LAYOUTS, convert_file
from mae_core.checkpoint.io import CheckpointMismatchError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", default="auto", choices=["auto", *LAYOUTS])
    ap.add_argument("--to", dest="dst", required=True, choices=list(LAYOUTS))
    ap.add_argument("--num-heads", type=int, default=None, help="attention heads (not stored in the weights)")
    ap.add_argument("--patch-size", type=int, default=None, help="resample the patch embedding (approximate)")
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = convert_file(args.input, args.output, args.src, args.dst, args.num_heads, args.patch_size)
    except (CheckpointMismatchError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{report.source_layout} -> {report.target_layout}: {len(report.dropped)} dropped, "
          f"{len(report.created)} created; report in {args.output}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
