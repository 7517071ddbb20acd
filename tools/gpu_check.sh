#!/usr/bin/env bash
# One prepared pass over the GPU paths (run by hand on a CUDA machine; not part of the CPU test suite):
# bf16 autocast + SDPA flash attention, the pretraining engine under torchrun/NCCL, throughput vs the baseline,
# and model FLOP utilisation on ViT-L. Results go to ${OUT:-runs/gpu_check}.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
$PY - <<'PY' 2>&1 | tee "$OUT/env.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
from torch.nn.attention import SDPBackend, sdpa_kernel
from mae_core.models.vit import create_vit
vit = create_vit("vit_base_patch16").cuda().eval()
x = torch.randn(8, 3, 224, 224, device="cuda")
with torch.autocast("cuda", dtype=torch.bfloat16), sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
    y = vit(x)           # raises if the flash kernel cannot run these shapes
with torch.autocast("cuda", dtype=torch.bfloat16), sdpa_kernel([SDPBackend.MATH]):
    y_ref = vit(x)
print("flash attention ok; max |flash - math| =", (y.float() - y_ref.float()).abs().max().item())
PY
$PY - <<'PY'
# a small image folder for the engine run (no data set on this machine)
import numpy as np, os
from PIL import Image
root = os.path.join(os.environ.get("OUT", "runs/gpu_check"), "imgs")
for c in range(2):
    os.makedirs(f"{root}/c{c}", exist_ok=True)
    for i in range(256):
        Image.fromarray((np.random.rand(64, 64, 3) * 255).astype("uint8")).save(f"{root}/c{c}/{i}.png")
PY
for n in 1 20; do   # the loss read on the host every step vs every 20 (train.sync_every): images/s in log.jsonl
  torchrun --standalone --nproc_per_node 1 tools/pretrain.py --config configs/pretrain/smoke.py \
    --data-path "$OUT/imgs" --output-dir "$OUT/engine_sync$n" train.device=cuda train.precision=bf16 train.epochs=2 \
    train.batch_size=64 data.num_workers=4 train.sync_every=$n 2>&1 | tail -n 3 | tee "$OUT/engine_sync$n.txt"
done
# end to end: ViT-L/16 MAE at 224 px fed by the sharded reader (ImageNet-sized JPEGs of real items, 15 loader
# workers), the loss read every 20 steps; images/s in log.jsonl next to the step benchmark's below
$PY - <<'PY'
import os
from pathlib import Path
from transfer.studies.bench.data import make_jpegs
make_jpegs(Path(os.environ.get("OUT", "runs/gpu_check")) / "jpegs", 2048, 500, 375)
PY
$PY tools/make_shards.py --data-path "$OUT/jpegs" --output-dir "$OUT/shards" --shard-size 256
$PY tools/pretrain.py --config configs/pretrain/mae_vit_large.py --data-path "$OUT/shards" \
  --output-dir "$OUT/e2e_vit_large" train.device=cuda train.precision=bf16 train.batch_size=128 train.max_steps=60 \
  train.log_every=20 train.sync_every=20 train.vis_every_steps=0 data.num_workers=15 2>&1 | tail -n 3 \
  | tee "$OUT/e2e_vit_large.txt"
for spec in "vit_base_patch16 128 fp32" "vit_base_patch16 128 bf16" "vit_large_patch16 128 bf16" "demo 1024 bf16"; do
  set -- $spec
  $PY tools/benchmark.py pretrain --model "$1" --batch "$2" --precision "$3" --device cuda --steps 20 --warmup 5 \
    --rounds 1 --output "$OUT/bench_$1_$3.json" | tail -n 2
done
$PY - <<'PY' | tee "$OUT/mfu.txt"
import json, glob, os
out = os.environ.get("OUT", "runs/gpu_check")
for f in sorted(glob.glob(f"{out}/bench_*.json")):
    r = json.load(open(f))
    peak = 989e3 if r["precision"] == "bf16" else 67e3   # H100/H200 dense TFLOP/s (bf16; fp32 non-tensor-core)
    print(f"{r['model']} {r['precision']} b{r['batch']}: ours {r['ours_ips']} img/s, baseline {r['baseline_ips']}, "
          f"ratio {r['ratio']}, ours {r['ours_gflops']/1e3:.1f} TFLOP/s = MFU {100*r['ours_gflops']/peak:.1f}%")
PY
