"""Table 1(a) decoder depth, row '2 blocks'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 70.0.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/a2_depth2.py \
    --data-path IMAGENET/train --output-dir runs/ablations/a2_depth2
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table a
"""
from transfer.studies.ablation.rows import derive

ROW = '2 blocks'
BASELINE = False
PAPER = (84.9, 70.0)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.decoder_depth=2'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_depth=2'])
