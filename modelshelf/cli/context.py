"""What every command handler receives: parsed flags, the shelf (opened lazily), and output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from modelshelf.api import Shelf
    from modelshelf.config import Settings


_SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CIVITAI_API_TOKEN")


@dataclass
class Context:
    args: argparse.Namespace
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @cached_property
    def settings(self) -> Settings:
        from modelshelf.config import load_settings

        return load_settings(home=getattr(self.args, "home", None),
                             connections=getattr(self.args, "connections", None))

    @cached_property
    def shelf(self) -> Shelf:
        from modelshelf.api import Shelf

        return Shelf(settings=self.settings)

    def emit(self, payload: Any, human: Callable[[], None]) -> None:
        """JSON on stdout with --json (and nothing else there), else the human rendering."""
        if self.json:
            self.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        else:
            human()

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def warn(self, text: str) -> None:
        """One line on stderr, scrubbed of every token value we know of."""
        self.stderr.write(f"modelshelf: {self.scrub(text)}\n")

    def scrub(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _secrets(self) -> list[str]:
        values = [os.environ.get(k, "") for k in _SECRET_ENV]
        values.append(getattr(self.args, "token", None) or "")
        return [v for v in values if len(v) >= 4]

