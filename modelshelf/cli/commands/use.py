"""``presets``: the named model sets ``pull --preset NAME`` installs, with their total size."""

from __future__ import annotations

import argparse
from typing import Any

from modelshelf.cli.context import Context
from modelshelf.config import format_size


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    presets = commands.add_parser(
        "presets", parents=[common], help="list named model sets (pull --preset NAME)",
        description="List presets: built in (basic, vision, nlp, all), presets/NAME.toml beside "
                    "config.toml, and config.toml [presets]. Sizes come from a preset's lock "
                    "file, else from resolving it (no download), else are unknown (offline).")
    presets.add_argument("--no-size", action="store_true",
                         help="do not resolve sizes (no network)")
    presets.set_defaults(handler=run_presets)


def run_presets(ctx: Context) -> int:
    shelf = ctx.shelf
    rows: list[dict[str, Any]] = []
    for preset in shelf.presets().values():
        size = None if ctx.args.no_size else shelf.preset_size(preset)
        rows.append({
            "name": preset.name,
            "origin": preset.origin,
            "models": [entry.ref for entry in preset.entries()],
            "size": size.bytes if size else None,
            "size_source": size.source if size else "unknown",
        })

    def human() -> None:
        for row in rows:
            size = format_size(row["size"]) if row["size"] is not None else "unknown"
            ctx.say(f"{row['name']:<12} {len(row['models']):>3} models  {size:>10}  "
                    f"({row['origin']})")
            ctx.say(f"{'':<12} {', '.join(row['models'])}")

    ctx.emit({"presets": rows}, human)
    return 0
