"""Table 1(a) decoder depth, row '8 blocks' (the default setting). Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/a4_depth8.py \
    --data-path IMAGENET/train --output-dir runs/ablations/a4_depth8
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table a
"""
from transfer.studies.ablation.rows import derive

ROW = '8 blocks'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.decoder_depth=8'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_depth=8'])
