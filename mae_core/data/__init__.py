"""Readers (image folders searched recursively, Fashion-MNIST IDX) in :mod:`.datasets`, transforms in
:mod:`.transforms`."""
from .datasets import (
                       ArrayImageDataset,
                       DataError,
                       ImageFolderDataset,
                       SeededDataset,
                       read_fashion_mnist,
                       read_idx,
                       scan_images,
)

__all__ = ["ArrayImageDataset", "DataError", "ImageFolderDataset", "SeededDataset", "read_fashion_mnist", "read_idx",
           "scan_images"]
