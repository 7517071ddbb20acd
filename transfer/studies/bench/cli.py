"""Command line of tools/benchmark.py."""
from __future__ import annotations

import argparse
import json

from transfer.studies.bench.pretrain_step import StepSpec, compare


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="benchmarks: ours vs a baseline in the same run")
    sub = p.add_subparsers(dest="what", required=True)
    pre = sub.add_parser("pretrain", help="one MAE pretraining step vs the reference structure")
    pre.add_argument("--model", default="vit_base_patch16", help="demo | vit_base_patch16 | vit_large_patch16 | ...")
    pre.add_argument("--batch", type=int, default=16)
    pre.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    pre.add_argument("--steps", type=int, default=10)
    pre.add_argument("--warmup", type=int, default=3)
    pre.add_argument("--rounds", type=int, default=2)
    pre.add_argument("--threads", type=int, default=0)
    pre.add_argument("--device", default="cpu")
    pre.add_argument("--compile", action="store_true", help="torch.compile both models")
    pre.add_argument("--output", default="", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    spec = StepSpec(model=args.model, batch=args.batch, precision=args.precision, steps=args.steps,
                    warmup=args.warmup, threads=args.threads, device=args.device, compile=args.compile)
    r = compare(spec, rounds=args.rounds)
    print(f"{r['model']} batch {r['batch']} {r['precision']} on {r['device']}: ours {r['ours_ips']} img/s "
          f"({r['ours_gflops']} GFLOP/s, peak {r['ours_peak_mb']} MB) | baseline {r['baseline_ips']} img/s "
          f"({r['baseline_gflops']} GFLOP/s, peak {r['baseline_peak_mb']} MB) | ratio {r['ratio']}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(r, f, indent=2)
    print(json.dumps(r))
    return 0
