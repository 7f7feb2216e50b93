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
    link.add_argument("--extra-paths", action="store_true",
                      help="comfyui: merge a modelshelf section into extra_model_paths.yaml "
                           "instead of making links")
    link.add_argument("--force", action="store_true",
                      help="comfyui: link into a folder that is not a ComfyUI root")
    link.set_defaults(handler=run_link)

    unlink = commands.add_parser("unlink", parents=[common],
                                 help="take out of an app's folder only what `link` put there")
    unlink.add_argument("app", choices=APPS)
    unlink.add_argument("directory", type=Path, metavar="DIR", help="the app's folder")
    unlink.add_argument("--dry-run", action="store_true")
    unlink.set_defaults(handler=run_unlink)

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
    plan = ctx.shelf.link(ctx.args.app, ctx.args.directory, extra_paths=ctx.args.extra_paths,
                          force=ctx.args.force)
    return _report(ctx, (plan,), ("would link the store into", "linked the store into"))


def run_unlink(ctx: Context) -> int:
    plans = ctx.shelf.unlink(ctx.args.app, ctx.args.directory)
    return _report(ctx, plans, ("would take the store out of", "took the store out of"))


def _report(ctx: Context, plans: tuple[Any, ...], heads: tuple[str, str]) -> int:
    """Apply the plans (unless ``--dry-run``), show them the same way for every style."""
    dry = ctx.args.dry_run
    payload = plans[0].to_json()
    for extra in plans[1:]:
        more = extra.to_json()
        for key in ("actions", "conflicts", "notes", "warnings"):
            payload[key] += more[key]
    if not dry:
        for plan in plans:
            plan.execute()
    payload["dry_run"] = dry

    def human() -> None:
        if payload["actions"] or payload["conflicts"]:
            ctx.say(f"{heads[0] if dry else heads[1]} {ctx.args.directory} for {ctx.args.app}")
        else:
            ctx.say(f"nothing to change in {ctx.args.directory} for {ctx.args.app}")
        for action in payload["actions"]:
            ctx.say(f"  {action['op']:<8} {action['path']}")
        for note in payload["notes"]:
            ctx.say(f"  {note}")

    ctx.emit(payload, human)
    for warning in payload["warnings"]:
        ctx.warn(f"warning: {warning}")
    for conflict in payload["conflicts"]:
        ctx.warn(f"error: not replacing {conflict['path']}: {conflict['reason']}")
    return 1 if payload["conflicts"] else 0


def run_demo(ctx: Context) -> int:
    from modelshelf.cli.demo import run

    return run(ctx)
