"""Helpers for CLI tests (a module, not conftest: conftest modules share one name)."""

from __future__ import annotations

import os
import subprocess
import sys


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "modelshelf", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
