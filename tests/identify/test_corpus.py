"""The 26 real key layouts in ``tests/identify/corpus`` (InvokeAI's test fixtures): all must pass."""

from __future__ import annotations

import pytest

from modelshelf.identify import identify
from modelshelf.testing.factories import corpus_names, header_from_shapes, load_corpus

NAMES = corpus_names()


def test_corpus_is_complete() -> None:
    """Missing key lists would make the tests below pass by having nothing to check."""
    assert len(NAMES) >= 26


@pytest.mark.parametrize("name", NAMES)
def test_corpus_keylist(name: str) -> None:
    tensors, expected = load_corpus(name)
    found = identify(header_from_shapes(tensors, dtype="BF16"))
    assert found.model_type == expected["model_type"], found
    if expected["architecture"] is not None:
        assert found.architecture == expected["architecture"], found
    assert found.confidence >= 0.5
    assert found.evidence and found.evidence[0].startswith("rule: ")
