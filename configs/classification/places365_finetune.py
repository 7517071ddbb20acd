"""Fine-tuning on Places365 from an IN-1k MAE encoder (paper Table 6), 365 classes (standard split;
data.places_split=challenge for the challenge list).

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/places365_finetune.py \
        --data-path PLACES365 --pretrained mae_pretrain_vit_base.pth --output-dir runs/places365_finetune \
        finetune.accum_iter=4

Data layout under PLACES365: places365_train_standard.txt, places365_val.txt, data_256/, val_256/.

The paper (appendix A.5) follows Table 9 and adjusts lr and epochs per data set without listing them; this
file keeps the ViT-B IN-1k recipe (blr 5e-4, layer decay 0.65, drop path 0.1, 100 epochs, bf16). ViT-L / ViT-H:
model.name=vit_large_patch16 (vit_huge_patch14) finetune.blr=1e-3 finetune.layer_decay=0.75
model.drop_path=0.2 (0.3) finetune.epochs=50 (and finetune.batch_size=16 finetune.accum_iter=8 for ViT-H).
Expected top-1 (ViT-B / L / H / H-448): 57.9 / 59.4 / 59.8 / 60.3.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16", dataset="places365", num_classes=365)
