"""``pull`` and ``lock``: getting models in."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelshelf.cli.context import Context, printable
from modelshelf.cli.progress import progress_bars
from modelshelf.config import format_size
from modelshelf.errors import UsageError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    pull = commands.add_parser("pull", parents=[common], help="fetch models into the store",
                               description="Fetch, verify, identify and register models.")
    pull.add_argument("refs", nargs="*", metavar="REF",
                      help="hf:ORG/REPO[@REV][/PATH], civitai:ID, URL, file:PATH, ...")
    pull.add_argument("-f", "--file", type=Path, metavar="MANIFEST", help="a models.toml")
    pull.add_argument("--preset", metavar="NAME",
                      help="a named model set: basic, vision, nlp, all, or your own (see presets)")
    pull.add_argument("--name", help="register under this name (one reference only)")
    pull.add_argument("--type", help="override the identified type (SPEC vocabulary)")
    pull.add_argument("--include", action="append", default=[], metavar="GLOB")
    pull.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    pull.add_argument("--revision", help="branch, tag, commit sha or refs/pr/N")
    pull.add_argument("--sha256", help="expected digest of a single-file reference")
    pull.add_argument("--connections", type=int,
                      help="most connections per file (default 32; opened only while they pay)")
    pull.add_argument("--jobs", type=int, default=4, help="references fetched at once")
    pull.add_argument("--token", help="access token for this pull (never stored or printed)")
    pull.add_argument("--link", action="store_true", help="local imports: hard link, no copy")
    pull.add_argument("--force", action="store_true", help="re-fetch; replace a same-name model")
    pull.add_argument("--dry-run", action="store_true", help="list what would be fetched")
    pull.add_argument("--allow-unsafe", action="store_true",
                      help="link files judged unsafe/unknown into views and apps all the same")
    pull.set_defaults(handler=run_pull)

    lock = commands.add_parser("lock", parents=[common], help="pin a manifest to MANIFEST.lock")
    lock.add_argument("-f", "--file", type=Path, required=True, metavar="MANIFEST")
    lock.add_argument("--jobs", type=int, default=4)
    lock.set_defaults(handler=run_lock)


def _options(args: argparse.Namespace) -> Any:
    from modelshelf.api import PullOptions

    return PullOptions(
        name=args.name, type=args.type, include=tuple(args.include),
        exclude=tuple(args.exclude), revision=args.revision, sha256=args.sha256,
        connections=args.connections, force=args.force, token=args.token, link=args.link,
        dry_run=args.dry_run, allow_unsafe=args.allow_unsafe)


def run_pull(ctx: Context) -> int:
    args = ctx.args
    if not args.refs and not args.file and not args.preset:
        raise UsageError("pull: give at least one reference, -f MANIFEST or --preset NAME")
    if args.name and (len(args.refs) + (1 if args.file else 0) > 1 or args.preset):
        raise UsageError("pull: --name needs exactly one reference")
    if args.jobs < 1:
        raise UsageError("pull: --jobs must be at least 1")
    options = _options(args)
    with progress_bars(ctx.stderr, enabled=not ctx.json) as progress:
        results = []
        if args.file:
            results += ctx.shelf.pull_manifest(args.file, jobs=args.jobs, progress=progress,
                                               base=options)
        if args.preset:
            results += ctx.shelf.pull_preset(args.preset, jobs=args.jobs, progress=progress,
                                             base=options)
        if args.refs:
            results += ctx.shelf.pull_many(args.refs, jobs=args.jobs, progress=progress,
                                           options=options)
    return _report(ctx, results)


def run_lock(ctx: Context) -> int:
    with progress_bars(ctx.stderr, enabled=not ctx.json) as progress:
        lock_file, results = ctx.shelf.lock(ctx.args.file, jobs=ctx.args.jobs, progress=progress)
    code = _report(ctx, results, lock_file=lock_file)
    if not ctx.json and code == 0:
        ctx.say(f"wrote {lock_file}")
    return code


def _report(ctx: Context, results: list[Any], lock_file: Path | None = None) -> int:
    from modelshelf.api.models import PullStatus

    payload: dict[str, Any] = {"results": [r.to_json() for r in results]}
    if lock_file is not None:
        payload["lock"] = str(lock_file)

    def human() -> None:
        for result in results:
            if result.status == PullStatus.ERROR:
                continue
            if result.status == PullStatus.PLANNED:
                _say_plan(ctx, result)
                continue
            model = result.model
            moved = (f"{format_size(result.bytes_downloaded)} downloaded"
                     if result.bytes_downloaded else "nothing downloaded")
            where = model.path if model.linked else "NOT LINKED (see below)"
            ctx.say(f"{model.name}  {model.type}/{model.architecture}  {format_size(model.size)}"
                    f"  ({moved})  {where}")
            for note in result.notes:
                ctx.warn(f"{model.name}: {note}")

    ctx.emit(payload, human)
    for result in results:
        if result.status == PullStatus.ERROR:
            # In a batch, an error that does not say which reference it is about is no help.
            error = str(result.error)
            ctx.warn(f"error: {error}" if result.ref in error else f"error: {result.ref}: {error}")
    return max((r.exit_code for r in results if r.status == PullStatus.ERROR), default=0)


def _say_plan(ctx: Context, result: Any) -> None:
    ctx.say(f"{result.ref}: {len(result.plan)} file(s), {format_size(result.total_bytes)}, "
            f"{format_size(result.missing_bytes)} to download")
    for planned in result.plan:
        size = format_size(planned.size) if planned.size is not None else "size unknown"
        ctx.say(f"  {'present ' if planned.present else 'fetch   '} {printable(planned.path)}  {size}")
