"""Table 1(a) decoder depth, row '1 block'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.8, lin 65.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/a1_depth1.py \
    --data-path IMAGENET/train --output-dir runs/ablations/a1_depth1
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table a
"""
from transfer.studies.ablation.rows import derive

ROW = '1 block'
BASELINE = False
PAPER = (84.8, 65.5)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.decoder_depth=1'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_depth=1'])
