"""Write tar shards (webdataset layout) + index.json from an image folder or a Fashion-MNIST IDX folder.

  python tools/make_shards.py --data-path IMAGENET/train --output-dir shards/train --shard-size 1000
  python tools/make_shards.py --data-path fashion-mnist --output-dir shards/fm --shard-size 5000
Then: python tools/pretrain.py --data-path shards/train ... (a folder of shards, or 'train-{000000..000099}.tar').
"""
import sys

from mae_core.data.shard_writer import main

if __name__ == "__main__":
    sys.exit(main())
