"""Store fixtures: a fresh store and a bound blob factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.store import Store
from modelshelf.testing.models import AddBlob, put_blob


@pytest.fixture
def store(isolated_env: Path) -> Store:
    return Store(isolated_env)


@pytest.fixture
def add_blob(store: Store) -> AddBlob:
    return lambda data, path="model.safetensors": put_blob(store, data, path)
