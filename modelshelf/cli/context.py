"""What every command handler receives: parsed flags, the shelf (opened lazily), and output."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

from modelshelf.errors import ModelshelfError
from modelshelf.secrets import scrub

if TYPE_CHECKING:
    from modelshelf.api import Shelf
    from modelshelf.config import Settings


_SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CIVITAI_API_TOKEN",
               "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")  # boto3 reads the AWS ones
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """A path (or a line holding paths) fit for human output: control characters (a newline in
    a file name would split one entry over two lines, or forge a line) and the bytes of names
    that are not UTF-8 (which a strict UTF-8 stdout refuses to encode) shown as escapes."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass
class Context:
    args: argparse.Namespace
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    emitted: bool = False  # whether the JSON answer is out (see ``emit_failure``)
    # Runs another command line in this process (the demo's steps); set by ``cli.main``, so no
    # command module imports the module that imports them all.
    dispatch: Callable[[Sequence[str]], int] | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @cached_property
    def _loaded(self) -> Settings:
        """The settings, read once; their warnings not said yet (the scrubber needs the tokens
        in them while it prints those very warnings)."""
        from modelshelf.config import load_settings

        return load_settings(home=getattr(self.args, "home", None),
                             connections=getattr(self.args, "connections", None))

    @cached_property
    def settings(self) -> Settings:
        settings = self._loaded
        for warning in settings.warnings:  # a config typo must not be silently ignored
            self.warn(f"warning: {warning}")
        return settings

    @cached_property
    def shelf(self) -> Shelf:
        from modelshelf.api import Shelf

        return Shelf(settings=self.settings)

    def emit(self, payload: Any, human: Callable[[], None]) -> None:
        """JSON on stdout with --json (and nothing else there), else the human rendering."""
        if self.json:
            self.stdout.write(self.mask_secrets(json.dumps(payload, indent=2, default=str)) + "\n")
            self.emitted = True
        else:
            human()

    def emit_failure(self, message: str) -> None:
        """With --json, a command that failed before printing its answer still leaves JSON on
        stdout (``{"error": ...}``), so a script's ``json.loads(stdout)`` never meets nothing."""
        if self.json and not self.emitted:
            self.emit({"error": self.scrub(message)}, lambda: None)

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def warn(self, text: str) -> None:
        """One line on stderr, scrubbed of every token value we know of. Warnings quote what
        files and servers say (a pickle's findings, an error naming a path): :func:`printable`
        here, so no caller can forget it and let a control character reach the terminal."""
        self.stderr.write(f"modelshelf: {printable(self.scrub(text))}\n")

    def scrub(self, text: str) -> str:
        """``text`` as one line with every token value we know of replaced by ``***``."""
        return " ".join(self.mask_secrets(text).split())

    def mask_secrets(self, text: str) -> str:
        """``text`` with every secret value we know of replaced by ``***``."""
        return scrub(text, self._secrets())

    def _secrets(self) -> list[str]:
        """``--token``, the token variables, and every credential the configuration holds
        (a token written in config.toml is as secret as one in the environment)."""
        values = [os.environ.get(k, "") for k in _SECRET_ENV]
        values.append(getattr(self.args, "token", None) or "")
        # When the configuration itself is what failed, nothing more is known.
        with contextlib.suppress(ModelshelfError):
            values.extend(self._loaded.secret_values())
        return values

