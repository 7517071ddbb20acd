"""Trains this project's dVAE tokenizer (Gumbel-softmax, as DALL-E) for the dVAE-token target (mae-train-tokenizer).

  python tools/train_tokenizer.py --output-dir runs/tokenizer [--data-path fashion-mnist] [--steps 600]
Then pretrain with  model.target=dvae_token model.target_args=tokenizer=dvae,path=runs/tokenizer/dvae.pth
The stride must equal the MAE's patch size when the tokenizer sees images at the MAE's resolution (4 for the demo).
"""
import sys

from mae_core.targets.tokenizers.cli import main

if __name__ == "__main__":
    sys.exit(main())
