"""What every command-line tool shares: one flag vocabulary, one logging set-up, one error contract.

Flags (each tool takes the ones that mean something for it): ``--config``, ``--data-path``, ``--output-dir``,
``--resume/--no-resume`` (default on: continue from OUTPUT_DIR's checkpoint when there is one, else start),
``--eval-only``, ``--pretrained``, then ``key=value`` overrides (the grammar of :mod:`mae_core.overrides`).

Error contract: the project's own errors (bad config, bad data, checkpoint mismatch, missing file) end a tool with
one line ``error: ...`` on stderr and exit code 2 (:func:`tool_main`); anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mae_core.errors import CheckpointMismatchError, ConfigError, DataError
from mae_core.overrides import split_overrides

TOOL_ERRORS: tuple[type[BaseException], ...] = (ConfigError, DataError, CheckpointMismatchError, FileNotFoundError)
EXIT_ERROR = 2
_HANDLER_FLAG = "_mae_cli_handler"


def add_common_flags(p: argparse.ArgumentParser, *, config: bool = True, data_path: bool | str = True,
                     output_dir: bool | str = True, resume: bool = True, eval_only: bool = True,
                     pretrained: bool = False, overrides: bool = True) -> argparse.ArgumentParser:
    """Adds the shared flags; a string for ``data_path`` / ``output_dir`` is its help text (``required`` unless the
    tool sets a default afterwards with ``p.set_defaults``)."""
    if config:
        p.add_argument("--config", required=True, help="a Python config file")
    if data_path:
        p.add_argument("--data-path", default=None,
                       help=data_path if isinstance(data_path, str) else "the data set (a folder, or a name)")
    if output_dir:
        p.add_argument("--output-dir", required=True,
                       help=output_dir if isinstance(output_dir, str) else "checkpoints, logs and metrics.json")
    if resume:
        p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                       help="continue from OUTPUT_DIR's checkpoint when there is one (default); --no-resume starts "
                            "over")
    if eval_only:
        p.add_argument("--eval-only", action="store_true", help="evaluate only, no training")
    if pretrained:
        p.add_argument("--pretrained", default=None,
                       help="a pretrained checkpoint (this project's, or an official MAE file)")
    if overrides:
        p.add_argument("overrides", nargs="*", default=[], help="config overrides, key=value (typed)")
    return p


def base_parser(description: str, **flags: bool | str) -> argparse.ArgumentParser:
    """An ArgumentParser with the shared flags (see :func:`add_common_flags`)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_common_flags(p, **flags)


def int_range(text: str) -> tuple[int, int]:
    """An argparse type: 'MIN,MAX' -> (MIN, MAX)."""
    try:
        lo, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX (two integers), got {text!r}") from None
    return lo, hi


def parse_overrides(items: list[str]) -> dict[str, str]:
    """Command-line ``key=value`` words -> {key: text}; a word without '=' is a ConfigError."""
    return split_overrides(items)


def setup_logging(rank: int | None = None, log_file: str | os.PathLike | None = None,
                  level: int = logging.INFO) -> None:
    """The one logging set-up of every tool: records of every library logger (``logging.getLogger(__name__)``)
    go to stderr, at ``level`` on rank 0 and WARNING on the others, and to ``log_file`` too when given.
    Calling it again replaces what it installed (not the handlers of anyone else, e.g. pytest's)."""
    rank = int(os.environ.get("RANK", "0")) if rank is None else rank
    root = logging.getLogger()
    remove_logging()
    tag = f"[r{rank}] " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    fmt = logging.Formatter(f"%(asctime)s {tag}%(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None and rank == 0:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    for h in handlers:
        h.setFormatter(fmt)
        setattr(h, _HANDLER_FLAG, True)
        root.addHandler(h)
    root.setLevel(level if rank == 0 else logging.WARNING)


def remove_logging() -> None:
    """Removes the handlers :func:`setup_logging` installed (and no one else's)."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(h)
        h.close()


def error_line(e: BaseException) -> str:
    """The one line a tool prints for a project error."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, FileNotFoundError) and e.filename and str(e.filename) not in text:
        text = f"{text}: {e.filename}"
    return f"error: {text}"


def tool_main(fn: Callable[..., int | None]) -> Callable[..., int]:
    """Decorates a tool's ``main(argv)``: project errors become one ``error: ...`` line on stderr and exit code 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> int:
        try:
            code = fn(*args, **kwargs)
        except TOOL_ERRORS as e:
            print(error_line(e), file=sys.stderr)
            return EXIT_ERROR
        return 0 if code is None else int(code)
    return wrapper


@tool_main
def pretrain_main(argv: list[str] | None = None) -> int:
    """``mae-pretrain``: MAE pretraining (see tools/pretrain.py)."""
    p = base_parser("MAE pretraining", data_path="folder of images, Fashion-MNIST IDX folder, or 'fashion-mnist' "
                                                  "(sets data.path)")
    args = p.parse_args(argv)
    setup_logging()
    from mae_core.config import load_config
    overrides = parse_overrides(args.overrides)
    if args.data_path:
        overrides["data.path"] = args.data_path
    if args.eval_only:
        raise ConfigError("--eval-only has no meaning for pretraining; use tools/linprobe.py or tools/finetune.py")
    cfg = load_config(args.config, overrides)          # a bad key or value stops here, before torch is imported
    from mae_core.engine.trainer import pretrain
    metrics = pretrain(cfg, args.output_dir, resume=args.resume)
    print(json.dumps(metrics, default=str))
    return 0


@tool_main
def convert_main(argv: list[str] | None = None) -> int:
    """``mae-convert``: converts a checkpoint between layouts, writes OUT and OUT.json (tools/convert_checkpoint.py)."""
    from mae_core.checkpoint.convert import LAYOUTS, convert_file
    ap = argparse.ArgumentParser(description="convert a ViT / MAE checkpoint between layouts")
    ap.add_argument("--from", dest="src", default="auto", choices=["auto", *LAYOUTS])
    ap.add_argument("--to", dest="dst", required=True, choices=list(LAYOUTS))
    ap.add_argument("--num-heads", type=int, default=None, help="attention heads (not stored in the weights)")
    ap.add_argument("--patch-size", type=int, default=None, help="resample the patch embedding (approximate)")
    ap.add_argument("--img-size", type=int, default=None,
                    help="the image side the converted encoder is for: its position table is resampled to that grid "
                         "(with or without --patch-size; default: the checkpoint's; the decoder is dropped)")
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args(argv)
    setup_logging()
    img = (args.img_size, args.img_size) if args.img_size else None
    report = convert_file(args.input, args.output, args.src, args.dst, args.num_heads, args.patch_size, img)
    print(f"{report.source_layout} -> {report.target_layout}: {len(report.dropped)} dropped, "
          f"{len(report.created)} created; report in {args.output}.json")
    return 0
