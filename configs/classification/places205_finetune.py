"""Fine-tuning on Places205 from an IN-1k MAE encoder (paper Table 6), 205 classes.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/places205_finetune.py \
        --data-path PLACES205 --pretrained mae_pretrain_vit_base.pth --output-dir runs/places205_finetune \
        finetune.accum_iter=4

Data layout under PLACES205: trainvalsplit_places205/*.csv, images256/.

ViT-L / ViT-H: add model.name=vit_large_patch16 (or vit_huge_patch14) model.drop_path=0.2 (0.3)
finetune.layer_decay=0.75 finetune.epochs=50. The paper adjusts lr and epochs per data set without listing them;
this file keeps the IN-1k recipe. Expected top-1 (ViT-B / L / H / H-448): 63.9 / 65.8 / 65.9 / 66.8.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="places205", num_classes=205)
