"""Run the real CLI in-process (fast) or as a subprocess (for kill -9 and concurrency)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelshelf.cli.main import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def random_bytes() -> Callable[[int, int], bytes]:
    def make(size: int, seed: int = 0) -> bytes:
        import random

        return random.Random(seed).randbytes(size)

    return make


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env
