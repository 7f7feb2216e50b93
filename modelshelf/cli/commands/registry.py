"""``ls``, ``rm``, ``pin``/``unpin``, ``verify``, ``du``, ``gc``: looking after what is in the store."""

from __future__ import annotations

import argparse
from typing import Any

from modelshelf.cli.context import Context, printable
from modelshelf.config import format_size
from modelshelf.errors import ModelNotFound, ModelPinned, UsageError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    ls = commands.add_parser("ls", parents=[common], help="list registered models")
    ls.add_argument("--type")
    ls.add_argument("--arch", help="architecture, e.g. sdxl, flux-dev, llama")
    ls.set_defaults(handler=run_ls)

    rm = commands.add_parser("rm", parents=[common], help="unregister models, free their bytes")
    rm.add_argument("names", nargs="+", metavar="NAME")
    rm.add_argument("-f", "--force", action="store_true", help="remove pinned models too")
    rm.set_defaults(handler=run_rm)

    for verb, pinned in (("pin", True), ("unpin", False)):
        cmd = commands.add_parser(verb, parents=[common],
                                  help=f"{'protect from' if pinned else 'allow'} eviction")
        cmd.add_argument("names", nargs="+", metavar="NAME")
        cmd.set_defaults(handler=run_pin, pinned=pinned)

    path = commands.add_parser("path", parents=[common],
                               help="where a model is on disk (its file or folder in views/)")
    path.add_argument("name", metavar="NAME")
    path.set_defaults(handler=run_path)

    verify = commands.add_parser("verify", parents=[common], help="re-hash and compare")
    verify.add_argument("names", nargs="*", metavar="NAME")
    verify.set_defaults(handler=run_verify)

    du = commands.add_parser("du", parents=[common], help="disk use and dedupe savings")
    du.set_defaults(handler=run_du)

    gc = commands.add_parser("gc", parents=[common], help="delete unreferenced data; evict LRU")
    gc.add_argument("--max-size", metavar="SIZE", help="evict until the store fits, e.g. 50GB")
    gc.add_argument("--keep", action="append", default=[], metavar="GLOB",
                    help="never evict names matching GLOB")
    gc.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    gc.add_argument("--force", action="store_true",
                    help="also delete unreferenced blobs that views/ or meta/ still claim")
    gc.set_defaults(handler=run_gc)

    repair = commands.add_parser(
        "repair", parents=[common],
        help="rebuild a lost registry from blobs, meta/ and views/; relink views")
    repair.set_defaults(handler=run_repair)


def run_ls(ctx: Context) -> int:
    from modelshelf.store import TYPES

    if ctx.args.type is not None and ctx.args.type not in TYPES:  # `--type lora` lists nothing
        raise UsageError(f"ls: --type {ctx.args.type!r}: expected one of {', '.join(TYPES)}")
    models = ctx.shelf.list(type=ctx.args.type, architecture=ctx.args.arch)

    def human() -> None:
        if not models:
            ctx.say("no models (try `modelshelf pull REF` or `modelshelf demo`)")
        for m in models:
            pin = " [pinned]" if m.pinned else ""
            # An unlinked model is in no app folder: say so, and why, on its own line.
            hidden = "" if m.linked else f" [NOT LINKED: {m.safety}; `modelshelf trust {printable(m.name)}`]"
            ctx.say(f"{printable(m.name):<32} {m.type:<16} {m.architecture:<14} {m.format:<12} "
                    f"{format_size(m.size):>10}  {printable(m.source_ref)}{pin}{hidden}")

    ctx.emit({"models": [m.to_json() for m in models]}, human)
    return 0


def _existing(ctx: Context, names: list[str]) -> list[str]:
    """Each name once, all checked before any is touched: a typo in one must not leave the
    command half-done with nothing on stdout to say which part happened."""
    unique = list(dict.fromkeys(names))
    missing = [name for name in unique if ctx.shelf.find(name) is None]
    if missing:
        raise ModelNotFound(f"no model named {', '.join(map(repr, missing))} in the store "
                            "(see `modelshelf ls`); nothing was changed")
    return unique


def run_path(ctx: Context) -> int:
    path = ctx.shelf.path(ctx.args.name)
    ctx.emit({"name": ctx.args.name, "path": str(path)}, lambda: ctx.say(str(path)))
    return 0


def run_rm(ctx: Context) -> int:
    names = _existing(ctx, ctx.args.names)
    pinned = [name for name in names if ctx.shelf.get(name).pinned]
    if pinned and not ctx.args.force:
        raise ModelPinned(f"{', '.join(pinned)}: pinned; use `modelshelf rm --force` to remove "
                          "anyway (or `modelshelf unpin` first); nothing was changed")
    freed = {name: ctx.shelf.remove(name, force=ctx.args.force) for name in names}

    def human() -> None:
        for name, freed_bytes in freed.items():
            ctx.say(f"removed {name} (freed {format_size(freed_bytes)})")

    ctx.emit({"removed": list(freed), "freed_bytes": sum(freed.values())}, human)
    return 0


def run_pin(ctx: Context) -> int:
    names = _existing(ctx, ctx.args.names)
    for name in names:
        ctx.shelf.pin(name, ctx.args.pinned)
    word = "pinned" if ctx.args.pinned else "unpinned"
    ctx.emit({word: names}, lambda: ctx.say(f"{word}: {', '.join(names)}"))
    return 0


def run_verify(ctx: Context) -> int:
    report = ctx.shelf.verify(_existing(ctx, ctx.args.names))

    def human() -> None:
        ctx.say(f"checked {report.checked} file(s): {report.ok} ok, {len(report.failed)} failed")
        for f in report.failed:
            ctx.say(f"  MISMATCH {f.name}: {f.path} expected {f.expected} got {f.actual}")
        for v in report.views_failed:
            ctx.say(f"  VIEW {v.name}: {printable(v.path)} is {v.problem}")
        if report.failed:
            ctx.say("fetch damaged models again with `modelshelf pull --force REF` "
                    "(their references are in `modelshelf ls`)")
        if report.views_failed:
            ctx.say("put the view files back with `modelshelf repair`")

    ctx.emit(report.to_json(), human)
    return 0 if report.all_ok else 1


def run_du(ctx: Context) -> int:
    usage = ctx.shelf.du()

    def human() -> None:
        ctx.say(f"models total   {format_size(usage.total_bytes):>10}")
        ctx.say(f"on disk        {format_size(usage.unique_bytes):>10}")
        ctx.say(f"saved (dedupe) {format_size(usage.saved_bytes):>10}")
        ctx.say(f"free           {format_size(usage.free_bytes):>10}")
        if usage.staging_bytes:
            stale = (f" ({format_size(usage.stale_partial_bytes)} nobody will resume: "
                     "`modelshelf gc` frees it)" if usage.stale_partial_bytes else "")
            ctx.say(f"partials       {format_size(usage.staging_bytes):>10}{stale}")
        for kind, size in sorted(usage.by_type.items()):
            ctx.say(f"  {kind:<16} {format_size(size):>10}")

    ctx.emit(usage.to_json(), human)
    return 0


def run_gc(ctx: Context) -> int:
    from modelshelf.config import parse_size

    max_size = parse_size(ctx.args.max_size) if ctx.args.max_size else None
    plan = ctx.shelf.gc(max_size=max_size, keep=ctx.args.keep, force=ctx.args.force)
    payload = plan.to_json()
    # What was really freed: a model used again since the plan, or bytes an app folder's hard
    # link keeps, make it less than planned.
    freed = plan.bytes_freed if ctx.args.dry_run else plan.execute()
    payload["dry_run"] = ctx.args.dry_run
    payload["freed_bytes"] = 0 if ctx.args.dry_run else freed

    def human() -> None:
        verb = "would free" if ctx.args.dry_run else "freed"
        evicted = payload.get("evict") or []
        for item in evicted:
            ctx.say(f"evict {item if isinstance(item, str) else item.get('name')}")
        ctx.say(f"{verb} {format_size(freed)}")
        if not plan.fits:
            ctx.warn("the store still exceeds --max-size: the rest is pinned or kept")

    if plan.unaccounted_blobs:  # on stderr with --json too: it is why bytes were not freed
        ctx.warn(f"kept {len(plan.unaccounted_blobs)} unreferenced blob(s) "
                 f"({format_size(plan.kept_bytes)}) that views/ or meta/ still point at: the "
                 "registry may have lost their models; run `modelshelf repair` (or "
                 "`modelshelf gc --force` to delete them)")
    ctx.emit(payload, human)
    return 0


def run_repair(ctx: Context) -> int:
    report = ctx.shelf.repair()

    def human() -> None:
        if report.registry_rebuilt:
            aside = f" (the damaged file is kept as {report.moved_aside})" if report.moved_aside else ""
            ctx.say(f"registry rebuilt{aside}: {len(report.from_snapshots)} model(s) from "
                    f"meta/ snapshots, {len(report.from_views)} from views/")
            for name in report.from_views:
                ctx.say(f"  {printable(name)}: source unknown (read back from views/)")
        else:
            ctx.say("registry ok")
        ctx.say(f"view entries put back: {report.views_relinked}")
        if report.unclaimed_blobs:
            ctx.say(f"{report.unclaimed_blobs} blob(s) ({format_size(report.unclaimed_bytes)}) "
                    "belong to no model; `modelshelf gc` deletes them")
        for note in report.notes:
            ctx.warn(note)

    ctx.emit(report.to_json(), human)
    return 0
