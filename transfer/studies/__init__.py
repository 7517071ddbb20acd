"""Experiments that combine the core and the adapters: the ablation tables (:mod:`.ablation`), the Table 7 target
study (:mod:`.compare_targets`), the demo and its probes (:mod:`.demo`, :mod:`.probe_eval`) and the benchmarks
(:mod:`.bench`). Nothing in ``mae_core`` or in an adapter imports this package."""
