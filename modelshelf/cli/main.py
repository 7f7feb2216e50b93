"""The ``modelshelf`` command: parse, dispatch to a command module, map errors to one line + exit code.

This is the only place that turns exceptions into what a user reads (huggingface_hub's CLI does the
same): a :class:`ModelshelfError` is one line naming the thing and the cause, exit 1 (2 for usage
errors); anything unexpected is one line too, with the traceback only under ``--debug``. Every
line that leaves here is scrubbed of token values.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from modelshelf import __version__
from modelshelf.cli.commands import (
    advise,
    fetch,
    inspection,
    registry,
    remote,
    setup,
    share,
    trust,
    use,
)
from modelshelf.cli.context import Context
from modelshelf.errors import ModelshelfError, os_error_text

COMMAND_MODULES = (fetch, registry, inspection, advise, setup, trust, use, share, remote)


class _BadUsage(SystemExit):
    """argparse refused the command line (exit 2); carries the line for ``--json``'s answer."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse prints usage + error over several lines; SPEC wants one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        line = f"{message} (see `{self.prog} --help`)"
        sys.stderr.write(f"modelshelf: error: {line}\n")
        raise _BadUsage(line)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output on stdout")
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help="store root (default: $MODELSHELF_HOME or the user data dir)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks")
    parser = _Parser(prog="modelshelf", parents=[common],
                     description="Keep machine-learning model files in order.")
    parser.add_argument("--version", action="version", version=f"modelshelf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(commands, common)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _BadUsage as exc:
        if "--json" in (sys.argv[1:] if argv is None else argv):
            sys.stdout.write(json.dumps({"error": exc.message}) + "\n")
        raise
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    ctx = Context(args, dispatch=run)
    error: Exception
    try:
        return int(args.handler(ctx) or 0)
    except ModelshelfError as exc:
        error, code, message = exc, exc.exit_code, str(exc)
    except BrokenPipeError:  # `modelshelf ls | head`: the reader left; say nothing
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        ctx.stderr.write("modelshelf: interrupted\n")
        ctx.emit_failure("interrupted")
        return 130
    except OSError as exc:  # a disk or permission problem the library did not anticipate
        error, code = exc, 1
        message = os_error_text(exc)
    except Exception as exc:  # a bug: still one line, the traceback behind --debug
        error, code = exc, 1
        message = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)"
    if getattr(args, "debug", False):
        # Outside the except blocks there is no "current" exception: print this one.
        traceback.print_exception(error, file=ctx.stderr)
    ctx.warn(f"error: {message}")
    ctx.emit_failure(message)
    return code


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except SystemExit as exc:  # argparse's own exits (--help, --version, usage errors)
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2


if __name__ == "__main__":
    raise SystemExit(main())
