"""Fine-tuning on iNaturalist 2017 from an IN-1k MAE encoder (paper Table 6), 5089 classes.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/inat2017_finetune.py \
        --data-path INAT2017 --pretrained mae_pretrain_vit_base.pth --output-dir runs/inat2017_finetune \
        finetune.accum_iter=4

Data layout under INAT2017: train2017.json, val2017.json, train_val_images/.

ViT-L / ViT-H: add model.name=vit_large_patch16 (or vit_huge_patch14) model.drop_path=0.2 (0.3)
finetune.layer_decay=0.75 finetune.epochs=50. The paper adjusts lr and epochs per data set without listing them;
this file keeps the IN-1k recipe. Expected top-1 (ViT-B / L / H / H-448): 70.5 / 75.7 / 79.3 / 83.4.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="inat2017", num_classes=5089)
