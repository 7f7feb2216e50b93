"""``info``, ``scan``, ``report``, ``convert``: knowing what model files are, without running them.

``info`` must start fast (SPEC goal: the whole process in <= 0.3 s), so it imports only the
inspection layer — never the transfer engine or huggingface_hub — unless the target is remote.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelshelf.cli.context import Context
from modelshelf.config import format_size
from modelshelf.errors import UsageError

_DTYPES = ("fp16", "bf16", "fp32")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    info = commands.add_parser("info", parents=[common], help="what a model is (name, path, ref)")
    info.add_argument("target", metavar="NAME|PATH|REF")
    info.add_argument("--hashes", action="store_true",
                      help="also compute sha256, AutoV2 and the legacy A1111 hash")
    info.add_argument("--gpu-memory", metavar="SIZE", help="does it fit, e.g. 24GB")
    info.add_argument("--dtype", choices=_DTYPES, help="with --gpu-memory: weights cast to this")
    info.set_defaults(handler=run_info)

    scan = commands.add_parser("scan", parents=[common], help="identify every model under DIR")
    scan.add_argument("directory", type=Path, metavar="DIR")
    scan.add_argument("--adopt", action="store_true",
                      help="move files into the store, leave links behind")
    scan.add_argument("--dry-run", action="store_true", help="with --adopt: show the plan only")
    scan.set_defaults(handler=run_scan)

    report = commands.add_parser("report", parents=[common], help="the whole collection")
    report.add_argument("--dir", action="append", default=[], type=Path, dest="dirs",
                        help="also cover this folder")
    report.set_defaults(handler=run_report)

    convert = commands.add_parser("convert", parents=[common], help="rewrite as safetensors")
    convert.add_argument("source", type=Path, metavar="IN")
    convert.add_argument("destination", type=Path, metavar="OUT")
    convert.add_argument("--dtype", choices=_DTYPES, help="cast floating tensors")
    convert.set_defaults(handler=run_convert)


def _resolve_info(ctx: Context) -> Any:
    target = ctx.args.target
    if Path(target).exists():
        from modelshelf.inspect import inspect_path

        return inspect_path(Path(target), hashes=ctx.args.hashes)
    return ctx.shelf.inspect(target, hashes=ctx.args.hashes)


def run_info(ctx: Context) -> int:
    if ctx.args.dtype and not ctx.args.gpu_memory:
        raise UsageError("info: --dtype goes with --gpu-memory")
    info = _resolve_info(ctx)
    payload = info.to_json()
    fit = None
    if ctx.args.gpu_memory:
        from modelshelf.config import parse_size
        from modelshelf.inspect import gpu_fit

        fit = gpu_fit(info, parse_size(ctx.args.gpu_memory), ctx.args.dtype)
        payload["gpu_fit"] = fit

    def human() -> None:
        ctx.say(f"{payload['path']}")
        for key in ("format", "architecture", "model_type"):
            ctx.say(f"  {key:<13} {payload.get(key)}")
        ctx.say(f"  {'confidence':<13} {payload.get('confidence')}")
        ctx.say(f"  {'parameters':<13} {payload['parameters']:,}")
        ctx.say(f"  {'tensors':<13} {payload['tensors']}")
        ctx.say(f"  {'memory':<13} {format_size(payload['memory_bytes'])}")
        dtypes = ", ".join(f"{k}: {v:,}" for k, v in payload["dtypes"].items())
        ctx.say(f"  {'dtypes':<13} {dtypes}")
        if payload.get("shards"):
            ctx.say(f"  {'shards':<13} {len(payload['shards'])}")
        safety = payload["safety"]
        ctx.say(f"  {'safety':<13} {safety['status']}")
        for finding in safety.get("findings", []):
            ctx.say(f"    - {finding}")
        for line in payload.get("evidence", [])[:6]:
            ctx.say(f"    evidence: {line}")
        for name, value in (payload.get("fingerprints") or {}).items():
            if value:
                ctx.say(f"  {name:<13} {value}")
        if fit is not None:
            verdict = "fits" if fit.get("fits") else "does NOT fit"
            ctx.say(f"  gpu           {verdict} ({fit})")

    ctx.emit(payload, human)
    return 0


def run_scan(ctx: Context) -> int:
    from modelshelf.inspect import scan

    if not ctx.args.directory.is_dir():
        raise UsageError(f"scan: {ctx.args.directory} is not a folder")
    result = scan(ctx.args.directory, store=ctx.shelf.store, adopt=ctx.args.adopt,
                  dry_run=ctx.args.dry_run)
    payload = result.to_json()

    def human() -> None:
        for f in payload["files"]:
            ctx.say(f"{f['path']}  {f['format']}  {f['model_type']}/{f['architecture']}  "
                    f"{format_size(f['size'])}")
        for group in payload["duplicates"]:
            ctx.say("duplicates: " + "  ==  ".join(group))
        ctx.say(f"{len(payload['files'])} model file(s), {len(payload['duplicates'])} duplicate group(s)")

    ctx.emit(payload, human)
    return 0


def run_report(ctx: Context) -> int:
    from modelshelf.inspect import report

    result = report(ctx.shelf.store, extra_dirs=tuple(ctx.args.dirs))

    def human() -> None:
        for line in result.render():
            ctx.say(line)

    ctx.emit(result.to_json(), human)
    return 0


def run_convert(ctx: Context) -> int:
    from modelshelf.convert import convert

    result = convert(ctx.args.source, ctx.args.destination, dtype=ctx.args.dtype)
    payload = result.to_json()
    ctx.emit(payload, lambda: ctx.say(
        f"wrote {payload['dst']}: {payload['tensors']} tensors ({payload['cast_tensors']} cast to "
        f"{payload['dtype']}), {format_size(payload['src_bytes'])} of tensor data -> "
        f"{format_size(payload['dst_size'])} in {payload['seconds']:.2f} s"))
    return 0
