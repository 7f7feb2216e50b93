"""Limits on what a Hub pull registers: `--include`/`--exclude` for a second name given to part
of a stored repo, and `[gc] max_size` checked before any byte moves."""

from __future__ import annotations

import pytest

from modelshelf.testing.hub import FakeHub


@pytest.fixture
def hub_pull(hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch, cli):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    return lambda *args: cli("pull", *args)


@pytest.mark.parametrize("ref", ["hf:org/tiny", "hf:org/tiny@{sha}"])
def test_a_named_part_of_a_stored_repo_holds_only_the_matching_files(
        hub_pull, hub_server: FakeHub, ref: str):
    repo = hub_server.repos["org/tiny"]
    ref = ref.format(sha=repo.refs["main"])  # at a commit sha: answered without the network
    assert hub_pull(ref).code == 0
    result = hub_pull(ref, "--include", "*.json", "--name", "configs", "--json")
    assert result.code == 0, result.err
    (item,) = result.json["results"]
    assert item["bytes_downloaded"] == 0
    assert sorted(f["path"] for f in item["files"]) == ["config.json", "unet/config.json"]
    excluded = hub_pull(ref, "--exclude", "*.bin", "--name", "no-bin", "--json")
    assert "pytorch_model.bin" not in {f["path"] for f in excluded.json["results"][0]["files"]}
    nothing = hub_pull(ref, "--include", "*.gguf", "--name", "none")
    assert nothing.code == 1 and "*.gguf" in nothing.err


def test_a_pull_past_max_size_is_refused_before_transferring(
        hub_pull, hub_server: FakeHub, cli, tmp_path):
    """Hub files announce their sizes: the refusal comes before any byte, naming the models
    that would have to go (pinned ones included) — or saying the model alone is too big."""
    (tmp_path / "config.toml").write_text('[gc]\nmax_size = "300KB"\n')
    assert hub_pull("hf:org/tiny/model.safetensors", "--name", "w").code == 0  # 200 KB
    assert cli("pin", "w").code == 0
    hub_server.clear_log()
    result = hub_pull("hf:org/tiny/unet/diffusion_pytorch_model.safetensors")  # 150 KB
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "max_size" in line and "evict w (pinned)" in line and "nothing was downloaded" in line
    (tmp_path / "config.toml").write_text('[gc]\nmax_size = "100KB"\n')
    too_big = hub_pull("hf:org/tiny/unet/diffusion_pytorch_model.safetensors")
    assert too_big.code == 1 and "more than the store may hold" in too_big.err
    assert [r for r in hub_server.log if r.path.startswith("/lfs/")] == []


def test_a_default_name_another_model_holds_is_refused_before_transferring(
        hub_pull, hub_server: FakeHub):
    hub_server.add_repo("other/tiny", {"config.json": b"{}", "weights.safetensors": b"x" * 5000})
    assert hub_pull("hf:org/tiny", "--include", "*.json").code == 0  # registered as "tiny"
    hub_server.clear_log()
    result = hub_pull("hf:other/tiny")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "model tiny exists (from hf:org/tiny)" in line and "tiny-2" in line
    assert [r for r in hub_server.log if r.path.startswith("/lfs/")] == []
    assert hub_pull("hf:other/tiny", "--name", "tiny-2").code == 0
