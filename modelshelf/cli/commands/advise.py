"""``advise``: will models fit a GPU and a disk, and what to change; ``--apply`` does the safe part.

Like ``gc``: ``--apply`` carries the plan out after printing it, ``--apply --dry-run`` only
prints it. Without ``--apply`` nothing changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelshelf.cli.context import Context, printable
from modelshelf.config import format_size
from modelshelf.errors import UsageError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    advise = commands.add_parser("advise", parents=[common],
                                 help="will it fit a GPU/disk, and what to change")
    advise.add_argument("targets", nargs="*", metavar="NAME|PATH")
    advise.add_argument("--all", action="store_true", help="every registered model")
    advise.add_argument("--gpu", metavar="SIZE", help="GPU memory, e.g. 48GB or 24GiB")
    advise.add_argument("--disk", metavar="SIZE", help="disk budget, e.g. 50GB")
    advise.add_argument("--profile", metavar="P",
                        help="a named target: a6000, 4090, t4, colab-free, ... or [profiles.P]")
    advise.add_argument("--dir", action="append", default=[], type=Path, dest="dirs",
                        help="also look for copies under this folder")
    advise.add_argument("--unused-days", type=int, metavar="N",
                        help="suggest removing models unused this long (default 90)")
    advise.add_argument("--apply", action="store_true",
                        help="carry out the safe suggestions (conversions to new models)")
    advise.add_argument("--dry-run", action="store_true", help="with --apply: the plan only")
    advise.set_defaults(handler=run_advise)


def run_advise(ctx: Context) -> int:
    args = ctx.args
    if bool(args.targets) == args.all:
        raise UsageError("advise: name models or paths, or give --all (not both)")
    if args.dry_run and not args.apply:
        raise UsageError("advise: --dry-run goes with --apply")
    advice = ctx.shelf.advise(args.targets, profile=args.profile, gpu=args.gpu, disk=args.disk,
                              extra_dirs=args.dirs, unused_days=args.unused_days)
    payload = advice.to_json()
    steps = ctx.shelf.advise_plan(advice) if args.apply else []
    if args.apply and not args.dry_run:
        steps = ctx.shelf.advise_apply(steps)
    if args.apply:
        payload["dry_run"] = args.dry_run
        payload["plan"] = [s.to_json() for s in steps]

    def human() -> None:
        for line in advice.render():
            ctx.say(printable(line))
        for s in steps:
            verb = {"planned": "would create", "done": "created", "exists": "already have",
                    "error": "FAILED to create"}[s.status]
            ctx.say(printable(f"{s.action}: {verb} {s.new_name} from {s.model} (saves "
                              f"{format_size(s.saves_bytes)}; `modelshelf rm {s.model}` "
                              "once you have checked it)"))

    ctx.emit(payload, human)
    failed = [s for s in steps if s.status == "error"]
    for s in failed:
        ctx.warn(f"error: {printable(s.error or s.new_name)}")
    return 1 if failed else 0
