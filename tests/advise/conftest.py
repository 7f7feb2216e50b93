"""A store with a few models for advise: big sizes are sparse files (header-only shapes)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from advise_models import evil_pickle, register

from modelshelf.store import Store
from modelshelf.testing import factories as f

DAY = 86400
# The torch-zip writer lives with the converter's tests; the apply tests use it too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))


@pytest.fixture
def store(isolated_env: Path) -> Store:
    return Store(isolated_env)


@pytest.fixture
def shelf_models(tmp_path: Path, store: Store) -> dict[str, int]:
    src = tmp_path / "src"
    src.mkdir()
    sizes = {
        # 50M fp32 weights: 200 MB on paper, nothing on disk
        "big32": register(store, f.write_safetensors(src / "big32.safetensors",
                                                     {"w": (50_000, 1000)}, dtype="F32"),
                          "big32"),
        "small16": register(store, f.write_safetensors(src / "small16.safetensors",
                                                       {"w": (100, 100)}), "small16"),
        "evil": register(store, evil_pickle(src / "evil.ckpt"), "evil", fmt="pickle"),
    }
    store.touch("small16", time.time() - 400 * DAY)
    return sizes
