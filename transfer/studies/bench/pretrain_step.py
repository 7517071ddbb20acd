"""Speed and peak memory of one MAE pretraining step (forward, backward, AdamW), ours vs the reference structure.

Each measurement runs in a fresh process (so peak memory is that variant's alone); variants alternate over
``rounds`` and the best throughput of each is kept, which evens out a noisy machine.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from mae_core.models.flops import vit_encoder_flops
from mae_core.models.mae import create_mae
from mae_core.models.vit import VIT_SIZES


@dataclass
class StepSpec:
    model: str = "vit_base_patch16"
    batch: int = 16
    precision: str = "fp32"
    img_size: int = 0             # 0 = the size's own (demo: 28)
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    mask_ratio: float = 0.75
    steps: int = 10
    warmup: int = 3
    threads: int = 0
    device: str = "cpu"
    compile: str = ""             # "" (eager) or a torch.compile mode for ours: default | reduce-overhead (CUDA graphs)
    #                               | max-autotune-no-cudagraphs; the baseline runs eager, as the reference code does
    profile: bool = False         # also profile `steps` steps of each (CPU): the matrix products' share of op time

    def resolved(self) -> "StepSpec":
        s = StepSpec(**asdict(self))
        if s.profile and s.device != "cpu":
            raise ValueError(f"profile: CPU only (device {s.device!r}); its split of GPU kernel time was not checked")
        if s.model in ("demo", "vit_demo_patch4"):
            s.model, s.decoder_embed_dim, s.decoder_depth, s.decoder_num_heads = "vit_demo_patch4", 128, 2, 4
        if s.model not in VIT_SIZES:
            raise ValueError(f"unknown model {s.model!r}; known: demo, {', '.join(VIT_SIZES)}")
        s.img_size = s.img_size or VIT_SIZES[s.model][4]
        return s


def train_flops(s: StepSpec) -> float:
    """Analytic FLOPs of one training step: 3x the forward's matrix-product FLOPs (``mae_core.models.flops``'s count for
    the encoder on the visible tokens and for the decoder on all tokens, plus the two linear maps between them)."""
    dim, depth, heads, patch, _ = VIT_SIZES[s.model]
    length = (s.img_size // patch) ** 2
    keep = int(length * (1 - s.mask_ratio))
    pix, dd = patch * patch * 3, s.decoder_embed_dim
    fwd = (vit_encoder_flops(dim, depth, keep + 1, length, pix) + 2 * (keep + 1) * dim * dd
           + vit_encoder_flops(dd, s.decoder_depth, length + 1, 0, 0) + 2 * (length + 1) * dd * pix)
    return 3.0 * fwd * s.batch


def build(kind: str, s: StepSpec) -> torch.nn.Module:
    dim, depth, heads, patch, _ = VIT_SIZES[s.model]
    kw = dict(img_size=s.img_size, patch_size=patch, in_chans=3, embed_dim=dim, depth=depth, num_heads=heads,
              decoder_embed_dim=s.decoder_embed_dim, decoder_depth=s.decoder_depth,
              decoder_num_heads=s.decoder_num_heads)
    if kind == "ours":
        return create_mae(s.model, norm_pix_loss=True, **{k: v for k, v in kw.items() if k != "embed_dim"})
    from transfer.studies.bench.baseline import ReferenceStyleMAE
    return ReferenceStyleMAE(norm_pix_loss=True, **kw)


def _measure(kind: str, spec: dict, queue) -> None:
    s = StepSpec(**spec)
    if s.threads:
        torch.set_num_threads(s.threads)
    torch.manual_seed(0)
    dev = torch.device(s.device)
    model = build(kind, s).to(dev)
    if kind == "ours":  # the engine's optimizer; the baseline's is the reference's plain AdamW
        from mae_core.engine.trainer import build_optimizer
        opt = build_optimizer(model, 0.05, 1e-4)
    else:
        from mae_core.engine.lr_decay import param_groups_lrd
        groups = [{k: v for k, v in g.items() if k != "names"} for g in param_groups_lrd(model, 0.05, 1.0)]
        opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95))
    compiled = bool(s.compile) and kind == "ours"
    fwd = torch.compile(model, mode=s.compile) if compiled else model
    graphs = compiled and s.compile == "reduce-overhead"
    imgs = torch.randn(s.batch, 3, s.img_size, s.img_size, device=dev)
    # the reference code's autocast is CUDA-only: on a CPU its "bf16" would run fp32; here both get real autocast
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=s.precision == "bf16")

    def step():
        if graphs:   # a new step: the graphs may reuse the memory of the last one's outputs
            torch.compiler.cudagraph_mark_step_begin()
        with amp:
            out = fwd(imgs)
        loss = out[0] if isinstance(out, tuple) else out
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if dev.type == "cuda":   # the peak over warmup too: CUDA graphs allocate their memory pool while recording
        torch.cuda.reset_peak_memory_stats()
    step_s = time_steps(step, s.steps, s.warmup, dev)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put({"ips": s.batch / step_s, "peak_mb": peak,
               **({"matmul_share": matmul_share(step, s.steps)} if s.profile else {})})


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_share(step: Callable[[], None], steps: int) -> float:
    """Share of the CPU op time (self time of every operator) that `steps` calls of `step` spend in matrix products
    (MATMUL_OPS). Two steps with the same products at the same speed cannot differ in speed by more than
    1 / (the slower one's share). CPU only: how a GPU profile splits kernel time between ops was not checked here."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return round(sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / max(total, 1e-9), 3)


def time_steps(step: Callable[[], None], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of `step`, timed over `steps` calls after `warmup` untimed ones (the GPU drained first)."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / steps


def measure(kind: str, s: StepSpec) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(kind, asdict(s), q))
    p.start()
    result = q.get()
    p.join()
    return result


def compare(spec: StepSpec, rounds: int = 2) -> dict:
    """-> ours_ips, baseline_ips, ratio, ours_peak_mb, baseline_peak_mb, GFLOP/s of each, the spec."""
    s = spec.resolved()
    best = {"ours": {"ips": 0.0, "peak_mb": 0.0}, "baseline": {"ips": 0.0, "peak_mb": 0.0}}
    shares: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(rounds):
        for kind in ("ours", "baseline"):
            r = measure(kind, s)
            best[kind]["ips"] = max(best[kind]["ips"], r["ips"])
            best[kind]["peak_mb"] = max(best[kind]["peak_mb"], r["peak_mb"])
            if "matmul_share" in r:
                shares[kind].append(r["matmul_share"])
    flops_per_img = train_flops(s) / s.batch
    return {"model": s.model, "batch": s.batch, "precision": s.precision, "img_size": s.img_size,
            "device": s.device, "compile": s.compile or "eager",
            "ours_ips": round(best["ours"]["ips"], 2), "baseline_ips": round(best["baseline"]["ips"], 2),
            "ratio": round(best["ours"]["ips"] / best["baseline"]["ips"], 3),
            "ours_peak_mb": round(best["ours"]["peak_mb"], 1), "baseline_peak_mb": round(best["baseline"]["peak_mb"], 1),
            "ours_gflops": round(best["ours"]["ips"] * flops_per_img / 1e9, 1),
            "baseline_gflops": round(best["baseline"]["ips"] * flops_per_img / 1e9, 1),
            "train_gflop_per_image": round(flops_per_img / 1e9, 3),
            **(profile_summary(shares) if s.profile else {})}


def profile_summary(shares: dict[str, list[float]]) -> dict:
    """The matrix products' share of each variant's op time (mean over rounds) and what it bounds: with the same
    products at the same speed, ours cannot beat the baseline by more than 1 / the baseline's share."""
    ours, base = (sum(v) / len(v) for v in (shares["ours"], shares["baseline"]))
    return {"ours_matmul_share": round(ours, 3), "baseline_matmul_share": round(base, 3),
            "ratio_bound_same_matmuls": round(1 / base, 2)}
