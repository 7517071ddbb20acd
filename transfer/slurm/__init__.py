"""SLURM launch through submitit (what the official MAE code uses): the same entry points as the tools
(``main(argv)`` of pretrain, finetune, linprobe), torch.distributed's environment from submitit's JobEnvironment,
requeued on preemption or timeout from the checkpoint the trainer's signal handler wrote."""
from .launcher import ENTRY_POINTS, SubmittedRun, build_executor, main

__all__ = ["ENTRY_POINTS", "SubmittedRun", "build_executor", "main"]
