"""Shared helpers for identification tests."""

from __future__ import annotations

import pytest

from modelshelf.testing.factories import corpus_names

CORPUS = corpus_names()


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    if not CORPUS:
        pytest.skip("shared corpus not found (set MODELSHELF_CORPUS)")
    return CORPUS
