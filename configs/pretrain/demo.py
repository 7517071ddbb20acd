"""The demo: a small ViT pretrained as an MAE on Fashion-MNIST (28 px, patch 4) on 2 CPU cores in minutes.

Command:  python tools/pretrain.py --config configs/pretrain/demo.py --data-path fashion-mnist --output-dir runs/demo
(`make demo` runs this, then the linear probe and k-NN; any folder of images works as --data-path too).
`make demo` fits this schedule to 10 minutes of pretraining on the machine it runs on (tools/demo.py --budget-minutes:
it times the step first, then shrinks epochs and warmup alike, and the run re-fits the cosine's end to the clock
as it trains, never past the 6 epochs written here: about 2.3 in fp32 on 2 AVX2 cores, more where bf16 runs faster,
the warmup a third of what is run). Batch 128 at lr 1e-3 (base 2e-3): twice the steps of batch 256 at the same lr
in the same time. No crop (crop_min_scale 1.0: the whole image, flipped at random): the budget sees each image two
to five times, too few passes for a crop's augmentation to pay (the paper's Table 1(e) finds MAE works without crops;
crops help its long schedules), and whole images are what the probe and the picture are measured on.
Expected: see README (linear probe / k-NN on the Fashion-MNIST test split vs a random encoder and raw pixels).
"""
from mae_core.engine.pretrain_config import DataConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

FASHION_MEAN, FASHION_STD = 0.286, 0.353

config = PretrainConfig(
    model=ModelConfig(encoder="vit_demo_patch4", img_size=28, patch_size=4, decoder_embed_dim=128, decoder_depth=2,
                      decoder_num_heads=4, mask_ratio=0.75, target="norm_pixel"),
    data=DataConfig(path="fashion-mnist", augmentation="random_resized_crop", crop_min_scale=1.0,
                    mean=(FASHION_MEAN,) * 3, std=(FASHION_STD,) * 3, num_workers=0, tensor_augmentation=True),
    optim=OptimConfig(base_lr=2e-3, weight_decay=0.05, betas=(0.9, 0.95), warmup_epochs=2),
    train=TrainConfig(epochs=6, batch_size=128, precision="auto", log_every=20, vis_every_steps=200),
)
