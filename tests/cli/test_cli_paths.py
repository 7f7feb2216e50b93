"""A reference shaped like a local path that is not there is "no such file", not a Hub call."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("command", ["info", "pull"])
@pytest.mark.parametrize("target", ["checkpoints/typo.safetensors", "typo.gguf", "./models/x"])
def test_missing_path_is_no_such_file(command: str, target: str, unused_port: int,
                                      monkeypatch: pytest.MonkeyPatch,
                                      cli: Any) -> None:
    # A Hub that is down: asking it would answer "cannot reach", which is what went wrong.
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{unused_port}")
    result = cli(command, target)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and target in lines[0] and "no such file" in lines[0], result.err
    assert "cannot reach" not in result.err


def test_bare_org_repo_still_goes_to_the_hub(unused_port: int, monkeypatch: pytest.MonkeyPatch,
                                             cli: Any) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{unused_port}")
    result = cli("info", "org/repo")
    assert result.code == 1 and "cannot reach" in result.err
