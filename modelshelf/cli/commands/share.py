"""``export`` / ``import``: offline bundles for machines with no network (see api/bundle.py);
``serve``: the local web page (see server/web.py); ``serve --mirror``: the store as a Hub endpoint
for the LAN (see server/mirror.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from modelshelf.cli.context import Context, printable
from modelshelf.config import format_size
from modelshelf.errors import ModelshelfError, UsageError, os_error_text

if TYPE_CHECKING:
    from modelshelf.server.mirror import MirrorServer
    from modelshelf.server.web import WebServer


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export", parents=[common], help="write models and their blobs to one tar bundle",
        description="Write NAME... (manifest, lock pinning every file, blobs by sha256) to a "
                    "plain tar that `modelshelf import` installs on another machine, offline.")
    export.add_argument("names", nargs="+", metavar="NAME")
    export.add_argument("-o", "--output", required=True, metavar="BUNDLE.tar")
    export.set_defaults(handler=run_export)
    imp = commands.add_parser(
        "import", parents=[common], help="install the models of a bundle (no network needed)",
        description="Verify every blob of BUNDLE.tar by sha256, skip those already stored, and "
                    "register its models as a pull would. Re-run to finish an interrupted import.")
    imp.add_argument("bundle", metavar="BUNDLE.tar")
    imp.add_argument("--allow-unsafe", action="store_true",
                     help="link models judged unsafe/unknown into views and apps all the same")
    imp.set_defaults(handler=run_import)
    serve = commands.add_parser(
        "serve", parents=[common],
        help="the local web page (or, with --mirror, a Hugging Face Hub mirror for the LAN)",
        description="Without --mirror: the collection as a web page on http://127.0.0.1:PORT "
                    "(search, disk use, details, pull, pin, remove, the gc plan). With --mirror: "
                    "answer the Hub API huggingface_hub uses from the store, "
                    "pulling misses through from the configured Hub endpoint; clients set "
                    "HF_ENDPOINT=http://HOST:PORT. [mirror] tokens in config.toml restricts it.")
    serve.add_argument("--mirror", action="store_true", help="the Hub API mirror")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (0.0.0.0: the whole LAN; default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    serve.set_defaults(handler=run_serve)


def run_export(ctx: Context) -> int:
    result = ctx.shelf.export_bundle(ctx.args.names, ctx.args.output)
    ctx.emit(result.to_json(), lambda: ctx.say(
        f"wrote {printable(str(result.path))}: {len(result.models)} model(s), {result.blobs} "
        f"blob(s), {format_size(result.bytes)}"))
    return 0


def run_import(ctx: Context) -> int:
    result = ctx.shelf.import_bundle(ctx.args.bundle, allow_unsafe=ctx.args.allow_unsafe)
    models = [ctx.shelf.get(r.name) for r in result.records]
    for note in result.notes:
        ctx.warn(note)

    def human() -> None:
        for m in models:
            ctx.say(f"{printable(m.name)}: {m.type}, {m.architecture}, "
                    + ("linked" if m.linked else "not linked (still in the store)"))
        ctx.say(f"{result.blobs_written} blob(s) written ({format_size(result.bytes_written)}), "
                f"{result.blobs_skipped} already present")

    ctx.emit({"models": [m.to_json() for m in models], "blobs_written": result.blobs_written,
              "blobs_skipped": result.blobs_skipped, "bytes_written": result.bytes_written,
              "notes": result.notes}, human)
    return 0


def run_serve(ctx: Context) -> int:
    if not ctx.args.mirror:
        return _serve_page(ctx)
    from modelshelf.server.mirror import MirrorServer

    server = MirrorServer(ctx.shelf, ctx.args.host, ctx.args.port)
    upstream = ctx.settings.source("hf").endpoint or "https://huggingface.co"
    if upstream.rstrip("/") == server.url:
        server.close()
        raise UsageError(f"serve --mirror: the upstream Hub endpoint {upstream} is this mirror "
                         "itself; set [sources.hf] endpoint or HF_ENDPOINT to the real Hub")
    guarded = "token required" if server.tokens else "open to every client that can reach it"
    ctx.emit({"url": server.url, "upstream": upstream, "tokens": bool(server.tokens)}, lambda: None)
    ctx.stdout.flush()
    ctx.warn(f"Hub mirror of {upstream} at {server.url} ({guarded}); clients: "
             f"HF_ENDPOINT={server.url}; Ctrl-C stops it")
    return _serve_until_interrupted(server)


def _serve_page(ctx: Context) -> int:
    """The page is for this machine's browser only: it can pull and delete, with no login."""
    if ctx.args.host not in ("127.0.0.1", "localhost"):
        raise UsageError(f"serve: the web page listens on 127.0.0.1 only (not {ctx.args.host}); "
                         "`serve --mirror --host` shares the store with the LAN")
    from modelshelf.server.web import WebServer

    try:
        server = WebServer(ctx.shelf, "127.0.0.1", ctx.args.port)
    except OSError as exc:
        raise ModelshelfError(f"serve: port {ctx.args.port}: {os_error_text(exc)} (--port 0 "
                              "picks a free one)") from None
    ctx.emit({"url": server.url}, lambda: None)
    ctx.stdout.flush()
    ctx.warn(f"modelshelf web page at {server.url}/ ; Ctrl-C stops it")
    return _serve_until_interrupted(server)


def _serve_until_interrupted(server: MirrorServer | WebServer) -> int:
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
