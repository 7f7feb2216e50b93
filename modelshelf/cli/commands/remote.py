"""``push NAME|--all`` and ``remote ls``: the team store on S3-compatible storage.

``pull`` uses the remote by itself (``[remote] url``); these two fill it by hand and show it.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelshelf.cli.context import Context, printable
from modelshelf.config import format_size


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    push = commands.add_parser(
        "push", parents=[common], help="upload models to the [remote] store (S3)",
        description="Upload each model's blobs the remote does not hold (create-only: an "
                    "object already there is never rewritten), then its reference manifest, "
                    "so another machine pulls it from the remote without the internet.")
    push.add_argument("names", nargs="*", metavar="NAME")
    push.add_argument("--all", action="store_true", help="push every registered model")
    push.set_defaults(handler=run_push)
    remote = commands.add_parser("remote", parents=[common], help="the [remote] store (S3)")
    verbs = remote.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("ls", parents=[common], help="list the references the remote holds")
    ls.set_defaults(handler=run_remote_ls)


def run_push(ctx: Context) -> int:
    if bool(ctx.args.names) == bool(ctx.args.all):
        ctx.warn("push: name models, or give --all (not both)")
        return 2
    reports = ctx.shelf.push(ctx.args.names, all=ctx.args.all)
    url = ctx.settings.remote.url

    def human() -> None:
        for r in reports:
            ctx.say(f"{printable(r.name)}: {r.uploaded} blobs uploaded "
                    f"({format_size(r.bytes_uploaded)}), {r.present} already there")
        ctx.say(f"{len(reports)} models pushed to {url}")

    ctx.emit({"remote": url, "models": [vars(r) for r in reports]}, human)
    return 0


def run_remote_ls(ctx: Context) -> int:
    manifests = ctx.shelf.remote_list()
    rows = [{"name": m.name, "ref": m.ref, "source": m.source, "revision": m.revision,
             "type": m.type, "files": len(m.files), "size": m.size} for m in manifests]

    def human() -> None:
        for m in manifests:
            ctx.say(f"{printable(m.name):<30} {format_size(m.size):>10}  {printable(m.ref)}")
        ctx.say(f"{len(rows)} references in {ctx.settings.remote.url}")

    ctx.emit({"remote": ctx.settings.remote.url, "models": rows}, human)
    return 0
