"""Fixtures for the inspection tests: a fresh store in the isolated MODELSHELF_HOME."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelshelf.store import Store


@pytest.fixture
def store(isolated_env: Path) -> Store:
    return Store(isolated_env)


# The torch-zip writer lives with the converter's tests; inspection tests use it too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))
