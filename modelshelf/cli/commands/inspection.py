"""``info``, ``scan``, ``report``, ``convert``: knowing what model files are, without running them.

``info`` must start fast (SPEC goal: the whole process in <= 0.3 s), so it imports only the
inspection layer — never the transfer engine or huggingface_hub — unless the target is remote.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelshelf.cli.context import Context, printable
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
    report.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the report as a self-contained HTML page")
    report.set_defaults(handler=run_report)

    convert = commands.add_parser("convert", parents=[common], help="rewrite as safetensors")
    convert.add_argument("source", type=Path, metavar="IN")
    convert.add_argument("destination", type=Path, metavar="OUT")
    convert.add_argument("--dtype", choices=_DTYPES, help="cast floating tensors")
    convert.set_defaults(handler=run_convert)


def run_info(ctx: Context) -> int:
    if ctx.args.dtype and not ctx.args.gpu_memory:
        raise UsageError("info: --dtype goes with --gpu-memory")
    gpu_bytes = None
    if ctx.args.gpu_memory:
        from modelshelf.inspection.targets import flag_size

        gpu_bytes = flag_size("--gpu-memory", ctx.args.gpu_memory)
    # After the flags are checked: --hashes may read 20 GB.
    info = ctx.shelf.inspect(ctx.args.target, hashes=ctx.args.hashes)
    payload = info.to_json()
    fit = None
    if gpu_bytes is not None:
        from modelshelf.inspection import gpu_fit

        fit = gpu_fit(info, gpu_bytes, ctx.args.dtype)
        payload["gpu_fit"] = fit

    def human() -> None:
        ctx.say(printable(payload["path"]))
        for key in ("format", "architecture", "model_type"):
            ctx.say(f"  {key:<13} {payload.get(key)}")
        ctx.say(f"  {'confidence':<13} {payload.get('confidence')}")
        ctx.say(f"  {'parameters':<13} {payload['parameters']:,}")
        ctx.say(f"  {'tensors':<13} {payload['tensors']}")
        ctx.say(f"  {'memory':<13} {format_size(payload['memory_bytes'])}")
        dtypes = ", ".join(f"{k}: {v:,}" for k, v in payload["dtypes"].items())
        ctx.say(f"  {'dtypes':<13} {dtypes}")
        for key, label in (("quantization", "quantization"), ("context_length", "context")):
            if payload.get(key) is not None:  # what an LLM user picks a GGUF by
                ctx.say(f"  {label:<13} {payload[key]}")
        for key, value in (payload.get("training") or {}).items():  # base model, steps, ...
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            ctx.say(f"  {key.replace('_', ' '):<13} {printable(shown)}")
        if payload.get("shards"):
            ctx.say(f"  {'shards':<13} {len(payload['shards'])}")
        if payload.get("missing"):
            ctx.say(f"  {'MISSING':<13} {printable(', '.join(payload['missing']))}")
        safety = payload["safety"]
        ctx.say(f"  {'safety':<13} {safety['status']}")
        for finding in safety.get("findings", []):  # names out of the file: shown, not obeyed
            ctx.say(f"    - {printable(finding)}")
        for line in payload.get("evidence", [])[:6]:
            ctx.say(f"    evidence: {printable(line)}")
        for name, value in (payload.get("fingerprints") or {}).items():
            if value:
                ctx.say(f"  {name:<13} {value}")
        if fit is not None:
            ctx.say(f"  {'gpu':<13} {_fit_line(fit)}")

    ctx.emit(payload, human)
    return 0


def _fit_line(fit: dict[str, Any]) -> str:
    verdict = "fits" if fit["fits"] else "does NOT fit"
    cast = f" at {fit['dtype']}" if fit["dtype"] else ""
    return (f"{verdict}{cast}: needs {format_size(fit['needed_bytes'])} of "
            f"{format_size(fit['gpu_bytes'])} ({fit['rule']})")


def _scan_line(f: dict[str, Any]) -> str:
    line = (f"{printable(f['path'])}  {f['format']}  {f['model_type']}/{f['architecture']}  "
            f"{format_size(f['size'])}")
    if f.get("error"):
        return f"{line}  BROKEN: {printable(f['error'].removeprefix(f['path'] + ': '))}"
    if f.get("safety") == "unsafe":
        line += f"  UNSAFE: {printable('; '.join(f.get('findings', [])))}"
    if f.get("missing"):
        line += f"  INCOMPLETE: missing {printable(', '.join(f['missing']))}"
    return line


def _plan_lines(plan: dict[str, Any], dry_run: bool) -> list[str]:
    verb = "would adopt" if dry_run else "adopting"
    lines = []
    for item in plan["adopt"]:
        what = f"as {item['name']}" if item["register"] else "(already in the store: link only)"
        lines += [f"{verb} {printable(path)} {what}" for path in item["paths"]]
    return lines


def run_scan(ctx: Context) -> int:
    from modelshelf.inspection import naming

    result = ctx.shelf.scan(ctx.args.directory, adopt=ctx.args.adopt, dry_run=ctx.args.dry_run)
    payload = result.to_json()

    def human() -> None:
        for f in payload["files"]:
            ctx.say(_scan_line(f))
        for group in payload["duplicates"]:
            ctx.say("duplicates: " + "  ==  ".join(printable(p) for p in group))
        broken = f", {len(payload['broken'])} broken" if payload["broken"] else ""
        ctx.say(f"{len(payload['files'])} model file(s), {len(payload['duplicates'])} "
                f"duplicate group(s){broken}")
        if payload["adopt_plan"] is not None:
            for line in _plan_lines(payload["adopt_plan"], ctx.args.dry_run):
                ctx.say(line)
            if not ctx.args.dry_run:
                ctx.say(f"adopted {len(payload['adopted'])} model(s), "
                        f"{len(payload['adopt_failed'])} failed")

    ctx.emit(payload, human)
    for path, reason in result.adopt_failed:
        ctx.warn(f"error: {printable(naming(path, reason))}")
    return 1 if result.adopt_failed else 0


def run_report(ctx: Context) -> int:
    html_file = ctx.args.html
    if html_file is not None and not html_file.parent.is_dir():
        raise UsageError(f"report --html {html_file}: no folder {html_file.parent}")
    result = ctx.shelf.report(extra_dirs=ctx.args.dirs)
    payload = result.to_json()
    if html_file is not None:
        from modelshelf.inspection.report_html import write_html

        payload["html"] = str(write_html(payload, html_file))

    def human() -> None:
        for line in result.render():
            ctx.say(printable(line))
        if html_file is not None:
            ctx.say(f"wrote {printable(str(html_file))}")

    ctx.emit(payload, human)
    return 0


def run_convert(ctx: Context) -> int:
    result = ctx.shelf.convert(ctx.args.source, ctx.args.destination, dtype=ctx.args.dtype)
    payload = result.to_json()
    cast = f" ({payload['cast_tensors']} cast to {payload['dtype']})" if payload["dtype"] else ""
    ctx.emit(payload, lambda: ctx.say(
        f"wrote {printable(payload['dst'])}: {payload['tensors']} tensors{cast}, "
        f"{format_size(payload['src_bytes'])} of tensor data -> "
        f"{format_size(payload['dst_size'])} in {payload['seconds']:.2f} s"))
    if result.overflowed:
        names = ", ".join(printable(name) for name in list(result.overflowed)[:5])
        more = f" and {len(result.overflowed) - 5} more" if len(result.overflowed) > 5 else ""
        ctx.warn(f"warning: {sum(result.overflowed.values()):,} values in "
                 f"{len(result.overflowed)} tensors were beyond {payload['dtype']}'s range and "
                 f"are now inf ({names}{more}); bf16 keeps fp32's range")
    return 0
