"""Command line of tools/benchmark.py."""
from __future__ import annotations

import argparse
import dataclasses
import json

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.cli import setup_logging, tool_main
from mae_core.engine.pretrain_config import COMPILE_MODES
from transfer.studies.bench.pretrain_step import StepSpec, compare


@tool_main
def main(argv: list[str] | None = None) -> int:
    """``mae-benchmark``: ``pretrain`` (one MAE step vs the reference structure), ``data`` (the input pipeline),
    ``folder`` (pretraining on a folder of one size: the tensor path vs per-image crops), ``detector``, ``segmentor``
    or ``classifier`` (Mask R-CNN, UperNet or ViT fine-tuning steps on the CPU: bf16 autocast vs fp32)."""
    p = argparse.ArgumentParser(description="benchmarks: ours vs a baseline in the same run")
    sub = p.add_subparsers(dest="what", required=True)
    pre = sub.add_parser("pretrain", help="one MAE pretraining step vs the reference structure")
    pre.add_argument("--model", default="vit_base_patch16", help="demo | vit_base_patch16 | vit_large_patch16 | ...")
    pre.add_argument("--batch", type=int, default=16)
    pre.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    pre.add_argument("--steps", type=int, default=10)
    pre.add_argument("--warmup", type=int, default=3)
    pre.add_argument("--rounds", type=int, default=2)
    pre.add_argument("--threads", type=int, default=0)
    pre.add_argument("--device", default="cpu")
    pre.add_argument("--compile", nargs="?", const="default", default="",
                     choices=COMPILE_MODES,
                     help="torch.compile our step in this mode (reduce-overhead: CUDA graphs); the baseline stays "
                          "eager, as the reference code runs")
    pre.add_argument("--profile", action="store_true",
                     help="also profile each variant (CPU only): the matrix products' share of its op time, and the "
                          "speed-up that share leaves possible with the same products")
    pre.add_argument("--output", default="", help="also write the JSON result to this file")
    dat = sub.add_parser("data", help="decode + RandomResizedCrop + flip per core: ours vs torchvision ImageFolder")
    dat.add_argument("--images", type=int, default=200, help="JPEGs to write and decode each round")
    dat.add_argument("--rounds", type=int, default=3)
    dat.add_argument("--size", type=int, default=224)
    dat.add_argument("--width", type=int, default=500)
    dat.add_argument("--height", type=int, default=375)
    dat.add_argument("--crop-min-scale", type=float, default=0.08)
    dat.add_argument("--target-ips", type=float, default=3200.0, help="images/s one GPU consumes")
    dat.add_argument("--workdir", default="", help="where to write the JPEGs (default: a temporary folder)")
    dat.add_argument("--output", default="", help="also write the JSON result to this file")
    fol = sub.add_parser("folder", help="pretraining steps/s on an image folder of one size: the in-memory tensor "
                                        "path vs per-image PIL crops in loader workers")
    fol.add_argument("--config", default="pretrain/transfer_study.py", help="a config file or a shipped config")
    fol.add_argument("--images", default="", help="a folder of images of one size (default: composed scenes)")
    fol.add_argument("--num-images", type=int, default=1000)
    fol.add_argument("--img-size", type=int, default=64)
    fol.add_argument("--batch", type=int, default=64)
    fol.add_argument("--steps", type=int, default=200)
    fol.add_argument("--rounds", type=int, default=2)
    fol.add_argument("--workers", type=int, default=1, help="loader workers of the per-image variant")
    fol.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    fol.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder)")
    fol.add_argument("--output", default="", help="also write the JSON result to this file")
    from transfer.studies.bench.classifier import ClassifierBenchSpec
    from transfer.studies.bench.detector import DetectorBenchSpec
    from transfer.studies.bench.segmentor import SegmentorBenchSpec
    for name, what, spec in (("detector", "Mask R-CNN", DetectorBenchSpec()),
                             ("segmentor", "UperNet", SegmentorBenchSpec()),
                             ("classifier", "ViT fine-tuning", ClassifierBenchSpec())):
        one = sub.add_parser(name, help=f"{what} training steps on the CPU: bf16 autocast vs fp32")
        one.add_argument("--config", default=spec.config)
        one.add_argument("--batch", type=int, default=spec.batch, help="0: the config's" if not spec.batch else None)
        one.add_argument("--steps", type=int, default=spec.steps)
        one.add_argument("--warmup", type=int, default=spec.warmup)
        one.add_argument("--rounds", type=int, default=spec.rounds)
        if hasattr(spec, "workdir"):
            one.add_argument("--workdir", default="", help="where the scenes go (default: a temporary folder)")
        one.add_argument("--output", default="", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    setup_logging()
    if args.what == "data":
        return data_main(args)
    if args.what == "folder":
        return folder_main(args)
    if args.what in ("detector", "segmentor", "classifier"):
        return precision_main(args)
    spec = StepSpec(model=args.model, batch=args.batch, precision=args.precision, steps=args.steps,
                    warmup=args.warmup, threads=args.threads, device=args.device, compile=args.compile,
                    profile=args.profile)
    r = compare(spec, rounds=args.rounds)
    print(f"{r['model']} batch {r['batch']} {r['precision']} on {r['device']}: ours {r['ours_ips']} img/s "
          f"({r['ours_gflops']} GFLOP/s, peak {r['ours_peak_mb']} MB) | baseline {r['baseline_ips']} img/s "
          f"({r['baseline_gflops']} GFLOP/s, peak {r['baseline_peak_mb']} MB) | ratio {r['ratio']}")
    _write(r, args.output)
    return 0


def _write(r: dict, output: str) -> None:
    """Prints the result and writes it (with where and when it was measured: commit, CPU, load) to `output`."""
    from mae_core.engine.metrics_log import run_context
    r = {**r, "machine": run_context()}
    if output:
        atomic_write_json(r, output)
    print(json.dumps(r))


def data_main(args: argparse.Namespace) -> int:
    from transfer.studies.bench.data import DataBenchSpec, run_data_bench
    r = run_data_bench(DataBenchSpec(images=args.images, rounds=args.rounds, size=args.size, width=args.width,
                                     height=args.height, target_ips=args.target_ips, workdir=args.workdir,
                                     crop_min_scale=args.crop_min_scale))
    print(f"decode + RandomResizedCrop {r['size']} + flip, {r['width']}x{r['height']} JPEGs, one core: ours "
          f"{r['ours_ips']} img/s | torchvision ImageFolder {r['baseline_ips']} img/s | ratio {r['ratio']} | cores "
          f"for {r['target_ips']:.0f} img/s: ours {r['cores_needed_ours']}, baseline {r['cores_needed_baseline']}")
    _write(r, args.output)
    return 0


def folder_main(args: argparse.Namespace) -> int:
    from transfer.studies.bench.folder import FolderBenchSpec, run_folder_bench
    r = run_folder_bench(FolderBenchSpec(config=args.config, images=args.images, num_images=args.num_images,
                                         img_size=args.img_size, batch=args.batch, steps=args.steps,
                                         rounds=args.rounds, workers=args.workers, precision=args.precision,
                                         workdir=args.workdir))
    t, p = r["best"]["tensor"], r["best"]["per_image"]
    print(f"pretraining on {r['images_used']}, {r['img_size']} px crops, batch {r['batch']}, {r['precision']}: "
          f"tensor path {t['steps_per_s']} steps/s (set-up {t['setup_s']} s) | per-image crops in "
          f"{r['workers']} worker(s) {p['steps_per_s']} steps/s (set-up {p['setup_s']} s) | ratio {r['ratio']}")
    _write(r, args.output)
    return 0


def precision_main(args: argparse.Namespace) -> int:
    """A transfer's training steps on the CPU, bf16 autocast vs fp32 (``detector``, ``segmentor``, ``classifier``)."""
    from transfer.studies.bench import classifier, detector, segmentor
    run, spec = {"detector": (detector.run_detector_bench, detector.DetectorBenchSpec),
                 "segmentor": (segmentor.run_segmentor_bench, segmentor.SegmentorBenchSpec),
                 "classifier": (classifier.run_classifier_bench, classifier.ClassifierBenchSpec)}[args.what]
    r = run(spec(**{f.name: getattr(args, f.name) for f in dataclasses.fields(spec) if hasattr(args, f.name)}))
    print(f"{args.what} training, {r['config']}, batch {r['batch']}, {r['threads']} threads: bf16 autocast "
          f"{r['bf16_its']} it/s | fp32 {r['fp32_its']} it/s | ratio {r['ratio']}")
    _write(r, args.output)
    return 0
