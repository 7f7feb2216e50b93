"""``config``, ``link`` and ``demo``: setting modelshelf up and showing it off."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelshelf.cli.context import Context

APPS = ("comfyui", "a1111", "invokeai", "flat")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser("config", parents=[common],
                                 help="print the effective configuration")
    config.set_defaults(handler=run_config)

    link = commands.add_parser("link", parents=[common], help="expose the store to an app")
    link.add_argument("app", choices=APPS)
    link.add_argument("directory", type=Path, metavar="DIR", help="the app's folder")
    link.add_argument("--dry-run", action="store_true")
    link.set_defaults(handler=run_link)

    demo = commands.add_parser("demo", parents=[common],
                               help="an offline end-to-end tour on generated models")
    demo.add_argument("--keep", action="store_true", help="keep the throwaway store")
    demo.set_defaults(handler=run_demo)


def run_config(ctx: Context) -> int:
    payload = ctx.settings.to_json()

    def human() -> None:
        ctx.say(f"store           {payload['home']}")
        ctx.say(f"hub cache       {payload['hf_cache']}")
        ctx.say(f"config file     {payload['config_file'] or '(none)'}")
        ctx.say(f"offline         {payload['offline']}")
        ctx.say(f"connections     {payload['transfer']['connections']}")
        for name, src in payload["sources"].items():
            state = "enabled" if src["enabled"] else "DISABLED"
            token = "token set" if src["token"] else "no token"
            ctx.say(f"source {name:<11} {state:<9} {src['endpoint'] or '':<28} {token}")
        for scheme, url in payload["proxies"].items():
            label = "no proxy for" if scheme == "no_proxy" else f"{scheme} proxy"
            if url:
                ctx.say(f"{label:<15} {url}")

    ctx.emit(payload, human)
    return 0


def run_link(ctx: Context) -> int:
    plan = ctx.shelf.link(ctx.args.app, ctx.args.directory)
    payload = plan.to_json()
    if not ctx.args.dry_run:
        plan.execute()
    payload["dry_run"] = ctx.args.dry_run

    def human() -> None:
        verb = "would link" if ctx.args.dry_run else "linked"
        ctx.say(f"{verb} the store into {ctx.args.directory} for {ctx.args.app}")
        for note in getattr(plan, "notes", ()):
            ctx.say(f"  {note}")

    ctx.emit(payload, human)
    for conflict in plan.conflicts:
        ctx.warn(f"error: not replacing {conflict.path}: {conflict.reason}")
    return 1 if plan.conflicts else 0


def run_demo(ctx: Context) -> int:
    from modelshelf.cli.demo import run

    return run(ctx)
