"""Table 1(a) decoder depth, row '12 blocks'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.4, lin 73.3.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/a5_depth12.py \
    --data-path IMAGENET/train --output-dir runs/ablations/a5_depth12
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table a
"""
from transfer.studies.ablation.rows import derive

ROW = '12 blocks'
BASELINE = False
PAPER = (84.4, 73.3)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.decoder_depth=12'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_depth=12'])
