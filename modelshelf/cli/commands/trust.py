"""``trust`` / ``untrust``: the user's word on a model the inspection could not vouch for.

A pull stores an unsafe or unanalysable pickle but keeps it out of ``views/`` (so out of every
app folder linked to it); ``trust NAME`` links it, ``untrust NAME`` takes any model out again.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelshelf.cli.context import Context, printable


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    for verb, trusted in (("trust", True), ("untrust", False)):
        cmd = commands.add_parser(
            verb, parents=[common],
            help="link a model judged unsafe/unknown into views and apps" if trusted
            else "take a model out of views and apps (it stays in the store)")
        cmd.add_argument("names", nargs="+", metavar="NAME")
        cmd.set_defaults(handler=run_trust, trusted=trusted)


def run_trust(ctx: Context) -> int:
    names = list(dict.fromkeys(ctx.args.names))
    for name in names:  # all checked first: a typo must not leave the command half done
        ctx.shelf.get(name)
    models = [ctx.shelf.trust(name, ctx.args.trusted) for name in names]

    def human() -> None:
        for m in models:
            where = f"linked at {m.path}" if m.linked else "not linked (still in the store)"
            ctx.say(f"{printable(m.name)}: {where}")

    ctx.emit({"models": [m.to_json() for m in models]}, human)
    return 0
