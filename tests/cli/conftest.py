"""Fixtures of the CLI tests (the in-process `cli` runner lives in the root conftest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def random_bytes() -> Callable[[int, int], bytes]:
    def make(size: int, seed: int = 0) -> bytes:
        import random

        return random.Random(seed).randbytes(size)

    return make


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env
