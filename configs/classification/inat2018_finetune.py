"""Fine-tuning on iNaturalist 2018 from an IN-1k MAE encoder (paper Table 6), 8142 classes.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/inat2018_finetune.py \
        --data-path INAT2018 --pretrained mae_pretrain_vit_base.pth --output-dir runs/inat2018_finetune \
        finetune.accum_iter=4

Data layout under INAT2018: train2018.json, val2018.json, train_val2018/.

ViT-L / ViT-H: add model.name=vit_large_patch16 (or vit_huge_patch14) model.drop_path=0.2 (0.3)
finetune.layer_decay=0.75 finetune.epochs=50. The paper adjusts lr and epochs per data set without listing them;
this file keeps the IN-1k recipe. Expected top-1 (ViT-B / L / H / H-448): 75.4 / 80.1 / 83.0 / 86.8.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="inat2018", num_classes=8142)
