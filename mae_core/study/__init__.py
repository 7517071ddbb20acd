"""Studies that chain pretraining and the transfers (e.g. the paper's Table 7, ``compare_targets``)."""
