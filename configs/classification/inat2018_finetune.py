"""Fine-tuning on iNaturalist 2018 from an IN-1k MAE encoder (paper Table 6), 8142 classes.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/inat2018_finetune.py \
        --data-path INAT2018 --pretrained mae_pretrain_vit_base.pth --output-dir runs/inat2018_finetune \
        finetune.accum_iter=4

Data layout under INAT2018: train2018.json, val2018.json, train_val2018/.

The paper (appendix A.5) follows Table 9 and adjusts lr and epochs per data set without listing them; this
file keeps the ViT-B IN-1k recipe (blr 5e-4, layer decay 0.65, drop path 0.1, 100 epochs, bf16). ViT-L / ViT-H:
model.name=vit_large_patch16 (vit_huge_patch14) finetune.blr=1e-3 finetune.layer_decay=0.75
model.drop_path=0.2 (0.3) finetune.epochs=50 (and finetune.batch_size=16 finetune.accum_iter=8 for ViT-H).
Expected top-1 (ViT-B / L / H / H-448): 75.4 / 80.1 / 83.0 / 86.8.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="inat2018", num_classes=8142)
