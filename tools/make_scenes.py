"""Composes scenes of real items (Fashion-MNIST, or yours with --items) and writes them for every transfer:
OUT/coco (detectron2), OUT/ade (mmseg), OUT/folders (item crops by class, classification), OUT/items (raw items).

    python tools/make_scenes.py --output-dir runs/scenes [--num-train 300 --num-val 100 --size 128 --seed 0]
    python tools/make_scenes.py --output-dir runs/fm --formats items --items-per-class 200    # raw item folders
    python tools/make_scenes.py --output-dir runs/fashion_coco --formats coco --classes 0,1,7,8   # 4-class COCO set
    python tools/make_scenes.py --output-dir runs/mine --items MY_ITEMS      # MY_ITEMS/{train,val}/<class>/*
"""
import sys

from transfer.studies.scenes import main

if __name__ == "__main__":
    sys.exit(main())
