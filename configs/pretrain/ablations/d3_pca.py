"""Table 1(d) reconstruction target, row 'PCA'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.6, lin 72.3.

The basis is fitted on model.target_fit_images training images before the first step and saved in the
checkpoint. Small scale: 8 components (a 4x4 grayscale patch has 16 independent values; the paper keeps
96 of 768).

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/d3_pca.py \
    --data-path IMAGENET/train --output-dir runs/ablations/d3_pca
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table d
"""
from transfer.studies.ablation.rows import derive

ROW = 'PCA'
BASELINE = False
PAPER = (84.6, 72.3)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pca', 'model.target_args=components=96'])
small = derive(__file__, "demo.py", ['model.target=pca', 'model.target_args=components=8'])
