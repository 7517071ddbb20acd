"""Table 1(a) decoder depth, row '4 blocks'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 71.9.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/a3_depth4.py \
    --data-path IMAGENET/train --output-dir runs/ablations/a3_depth4
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table a
"""
from transfer.studies.ablation.rows import derive

ROW = '4 blocks'
BASELINE = False
PAPER = (84.9, 71.9)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.decoder_depth=4'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_depth=4'])
