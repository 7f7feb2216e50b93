"""A name another model holds is refused before any byte moves; the error offers a free name."""

from __future__ import annotations

from pathlib import Path

from modelshelf.testing.server import LocalServer


def test_a_taken_name_is_refused_before_the_transfer_and_a_free_one_is_offered(
        cli, home, server: LocalServer, random_bytes):
    server.add_file("/a.safetensors", random_bytes(2**16, seed=1))
    server.add_file("/b.safetensors", random_bytes(2**20, seed=2))
    assert cli("pull", server.url + "/a.safetensors", "--name", "x").code == 0
    assert cli("pull", server.url + "/a.safetensors", "--name", "x-2").code == 0
    server.clear_log()
    result = cli("pull", server.url + "/b.safetensors", "--name", "x")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "model x exists" in line and "x-3" in line and "--force" not in line
    assert server.requests_for("/b.safetensors") == []  # nothing was downloaded
    assert cli("pull", server.url + "/b.safetensors", "--name", "x-3").code == 0
    assert len(cli("ls", "--json").json["models"]) == 3


def test_a_name_clash_found_after_the_transfer_keeps_the_bytes(
        cli, home: Path, server: LocalServer, random_bytes):
    """Two URLs whose files are both called m.safetensors: the name is the server's, known
    only once the bytes are here. The error offers a free name; the blob stays."""
    second = random_bytes(2**16, seed=4)
    server.add_file("/a/m.safetensors", random_bytes(2**16, seed=3))
    server.add_file("/b/m.safetensors", second)
    assert cli("pull", server.url + "/a/m.safetensors").code == 0
    result = cli("pull", server.url + "/b/m.safetensors")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "exists with other content" in line and "m-2" in line and "--force" not in line
    blobs = [p for p in (home / "blobs").rglob("*") if p.is_file()]
    assert any(b.read_bytes() == second for b in blobs)  # the verified bytes are kept
