"""A Hub (or mirror) answering JSON of the wrong shape: one line naming the reference and what
was malformed, exit 1 — not a traceback from deep inside huggingface_hub's parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from modelshelf.testing.server import LocalServer, Response

GOOD_INFO = {"_id": "x", "id": "org/repo", "sha": "c" * 40, "private": False, "gated": False,
             "siblings": [{"rfilename": "m.safetensors"}], "tags": []}
GOOD_TREE = [{"type": "file", "oid": "d" * 40, "size": 64, "path": "m.safetensors",
              "lfs": {"oid": "e" * 64, "size": 64, "pointerSize": 130}}]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A loopback Hub whose info and tree answers are whatever the test puts in the dict."""
    answers: dict[str, Any] = {"info": GOOD_INFO, "tree": GOOD_TREE}

    def answer(key: str) -> Any:
        return lambda request: Response(200, json.dumps(answers[key]).encode(),
                                        {"Content-Type": "application/json"})

    with LocalServer() as server:
        server.add_route("GET", r"/api/models/org/repo(?:/revision/[^/]+)?", answer("info"))
        server.add_route("GET", r"/api/models/org/repo/tree/.+", answer("tree"))
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield answers


@pytest.mark.parametrize(("key", "value", "what"), [
    ("info", None, "model info"),
    ("info", [], "model info"),
    ("info", {**GOOD_INFO, "sha": None}, "model info (ValueError: commit sha None)"),
    ("info", {**GOOD_INFO, "siblings": 7}, "model info"),
    ("info", {k: v for k, v in GOOD_INFO.items() if k != "id"}, "model info (KeyError: 'id')"),
    ("info", {**GOOD_INFO, "gated": ["manual"]}, "model info (ValueError: gated ['manual'])"),
    ("tree", {"path": "x"}, "tree listing"),
    ("tree", [{**GOOD_TREE[0], "size": "big"}], "tree listing (ValueError: m.safetensors: size"),
    ("tree", [{"type": "file", "path": "m.safetensors"}], "tree listing (KeyError"),
    ("tree", [{**GOOD_TREE[0], "lfs": {"oid": None, "size": 1, "pointerSize": 1}}],
     "tree listing (ValueError: m.safetensors: lfs oid None)"),
])
def test_a_malformed_hub_answer_is_one_line_naming_the_repo(
        hub: dict[str, Any], cli: Any, key: str, value: Any, what: str) -> None:
    hub[key] = value
    result = cli("pull", "hf:org/repo")
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert "hf:org/repo: the Hub sent a malformed " + what in lines[0]
