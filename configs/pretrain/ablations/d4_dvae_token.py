"""Table 1(d) reconstruction target, row 'dVAE token'. Paper (ViT-L, 800 epochs, IN-1k): ft 85.3, lin 71.6.

Full scale: the DALL-E dVAE encoder; put its encoder.pkl at dalle/encoder.pkl (or override
model.target_args). Small scale: this project's dVAE (tools/train_tokenizer.py; tools/ablate.py trains it
into OUTPUT/tokenizer/dvae.pth when missing and points the row at it).

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/d4_dvae_token.py \
    --data-path IMAGENET/train --output-dir runs/ablations/d4_dvae_token
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table d
"""
from transfer.studies.ablation.rows import derive

ROW = 'dVAE token'
BASELINE = False
PAPER = (85.3, 71.6)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=dvae_token', 'model.target_args=tokenizer=dalle,path=dalle/encoder.pkl'])
small = derive(__file__, "demo.py",
               ['model.target=dvae_token', 'model.target_args=tokenizer=dvae,path=runs/ablations/tokenizer/dvae.pth'])
