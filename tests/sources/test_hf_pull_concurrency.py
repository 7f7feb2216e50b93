"""How a repo's files share a pull: small files are fetched beside the shards, not after them."""

from __future__ import annotations

import os

import pytest

from modelshelf.testing.hub import FakeHub

MIB = 2**20


def test_small_files_are_not_queued_behind_the_shards(hub_server: FakeHub, cli,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight shards (twice as many as are fetched at once) and a JSON file listed after them:
    the JSON file lands before any shard, instead of waiting for a slot in the second wave
    (the server logs a request when it has sent it all, so the order is the log's)."""
    shards = {f"model-{i:05d}.safetensors": os.urandom(2 * MIB) for i in range(8)}
    hub_server.add_repo("org/shards", {**shards, "tokenizer_config.json": b"{}"})
    hub_server.faults.rate_per_connection = 4e6  # one connection: half a second per shard
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    result = cli("pull", "hf:org/shards", "--connections", "1", "--json")
    assert result.code == 0, result.err
    gets = [r.path for r in hub_server.log if r.method == "GET" and r.status in (200, 206)]
    small = next(i for i, path in enumerate(gets) if path.endswith("/tokenizer_config.json"))
    first_shard = next(i for i, path in enumerate(gets) if path.startswith("/lfs/"))
    assert small < first_shard, gets
