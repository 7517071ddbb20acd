"""Fine-tuning on Places205 from an IN-1k MAE encoder (paper Table 6), 205 classes.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/places205_finetune.py \
        --data-path PLACES205 --pretrained mae_pretrain_vit_base.pth --output-dir runs/places205_finetune \
        finetune.accum_iter=4

Data layout under PLACES205: trainvalsplit_places205/*.csv, images256/.

The paper (appendix A.5) follows Table 9 and adjusts lr and epochs per data set without listing them; this
file keeps the ViT-B IN-1k recipe (blr 5e-4, layer decay 0.65, drop path 0.1, 100 epochs, bf16). ViT-L / ViT-H:
model.name=vit_large_patch16 (vit_huge_patch14) finetune.blr=1e-3 finetune.layer_decay=0.75
model.drop_path=0.2 (0.3) finetune.epochs=50 (and finetune.batch_size=16 finetune.accum_iter=8 for ViT-H).
Expected top-1 (ViT-B / L / H / H-448): 63.9 / 65.8 / 65.9 / 66.8.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="places205", num_classes=205)
