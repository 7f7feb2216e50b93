"""`[gc] max_size` holds for `pull`: it evicts least recently used unpinned models to fit, or
refuses, naming what would have to go (before any byte moves when the source gives sizes; see
tests/sources/test_hf_pull_limits.py)."""

from __future__ import annotations

from pathlib import Path

from modelshelf.testing.server import LocalServer

MIB = 2**20


def _serve(server: LocalServer, random_bytes, sizes: dict[str, int]) -> None:
    for seed, (name, size) in enumerate(sizes.items()):
        server.add_file(f"/{name}.safetensors", random_bytes(size, seed=seed))


def _names(cli) -> list[str]:
    return [m["name"] for m in cli("ls", "--json").json["models"]]


def test_pull_evicts_the_least_recently_used_model_to_fit(cli, home, tmp_path: Path,
                                                           server: LocalServer, random_bytes):
    (tmp_path / "config.toml").write_text('[gc]\nmax_size = "3MiB"\n')
    _serve(server, random_bytes, {"a": MIB, "b": MIB, "c": MIB + MIB // 2})
    for name in ("a", "b"):
        assert cli("pull", f"{server.url}/{name}.safetensors").code == 0
    assert cli("path", "a").code == 0  # used: b is now the least recently used
    result = cli("pull", f"{server.url}/c.safetensors", "--json")
    assert result.code == 0, result.err
    assert "evicted b" in " ".join(result.json["results"][0]["notes"])
    assert _names(cli) == ["a", "c"]
    assert cli("du", "--json").json["unique_bytes"] <= 3 * MIB


def test_a_url_of_unannounced_size_is_checked_before_it_is_registered(
        cli, home, tmp_path: Path, server: LocalServer, random_bytes):
    (tmp_path / "config.toml").write_text('[gc]\nmax_size = "3MiB"\n')
    _serve(server, random_bytes, {"a": MIB, "b": MIB, "big": 2 * MIB})
    for name in ("a", "b"):
        assert cli("pull", f"{server.url}/{name}.safetensors").code == 0
    assert cli("pin", "a", "b").code == 0
    result = cli("pull", f"{server.url}/big.safetensors")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "max_size" in line and "a (pinned)" in line and "kept until `modelshelf gc`" in line
    assert _names(cli) == ["a", "b"]
