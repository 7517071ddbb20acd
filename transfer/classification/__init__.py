"""Classification transfer of the one ViT: full fine-tuning, linear probing (full and cached-feature), partial
fine-tuning (last k blocks) and k-NN evaluation, on ImageNet-style folders, iNaturalist and Places."""
