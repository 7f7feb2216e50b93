"""``modelshelf pull hf:...`` end to end against the fake Hub: store, Hub cache, tokens, faults."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_constants import HUB_TOKEN
from huggingface_hub import hf_hub_download, snapshot_download

from modelshelf.testing.hub import FakeHub


@pytest.fixture
def hub_pull(hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch, cli):
    """Run ``modelshelf pull`` in-process with HF_ENDPOINT pointing at the fake Hub."""
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    return lambda *args: cli("pull", *args)


def hf_cache(isolated_env: Path) -> Path:
    return Path(os.environ["HF_HOME"]) / "hub"


def lfs_gets(hub: FakeHub) -> list:
    return [r for r in hub.log if r.path.startswith("/lfs/") and r.method == "GET"]


def test_pull_whole_repo_then_huggingface_hub_finds_it_offline(hub_pull, hub_server: FakeHub,
                                                                isolated_env: Path):
    result = hub_pull("hf:org/tiny", "--json")
    assert result.code == 0, result.err
    (item,) = result.json["results"]
    assert item["status"] == "ok" and item["name"] == "tiny"
    repo = hub_server.repos["org/tiny"]
    tree = repo.commits[repo.refs["main"]]
    assert {f["path"]: f["sha256"] for f in item["files"]} == {
        p: hashlib.sha256(f.data).hexdigest() for p, f in tree.items()}  # type: ignore[arg-type]
    assert item["bytes_downloaded"] == sum(f.size for f in tree.values())

    hub_server.clear_log()
    cache = hf_cache(isolated_env)
    path = hf_hub_download("org/tiny", "model.safetensors", cache_dir=cache, local_files_only=True)
    same = [p for p in isolated_env.rglob("*") if p.is_file() and not p.is_symlink()
            and p.stat().st_ino == os.stat(path).st_ino]
    assert same, f"no file of the store shares the inode of {path}"
    folder = snapshot_download("org/tiny", cache_dir=cache, local_files_only=True)
    assert (Path(folder) / "unet" / "config.json").read_bytes() == b'{"sample_size": 64}'
    assert hub_server.log == []


def test_second_pull_transfers_nothing(hub_pull, hub_server: FakeHub):
    assert hub_pull("hf:org/tiny").code == 0
    hub_server.clear_log()
    again = hub_pull("hf:org/tiny", "--json")
    assert again.code == 0 and again.json["results"][0]["bytes_downloaded"] == 0
    assert lfs_gets(hub_server) == []
    assert [r for r in hub_server.log if "/resolve/" in r.path] == []


def test_a_moved_branch_updates_the_model_fetching_only_the_change(hub_pull,
                                                                   hub_server: FakeHub):
    assert hub_pull("hf:org/tiny").code == 0
    hub_server.commit("org/tiny", {"config.json": b'{"v": 3}'})
    moved = hub_pull("hf:org/tiny", "--json")
    assert moved.code == 0, moved.err
    assert moved.json["results"][0]["bytes_downloaded"] == len(b'{"v": 3}')


def test_private_repo_token_goes_to_the_hub_only(hub_pull, hub_server: FakeHub):
    assert hub_pull("hf:org/private").code == 1
    result = hub_pull("hf:org/private", "--token", HUB_TOKEN)
    assert result.code == 0, result.err
    (cdn,) = lfs_gets(hub_server)
    assert cdn.host.startswith("localhost:")
    assert not any(k.lower() == "authorization" for k in cdn.headers)
    hub_get = [r for r in hub_server.log if "/resolve/" in r.path and r.method == "GET"]
    assert hub_get and all(f"Bearer {HUB_TOKEN}" in r.headers.values() for r in hub_get)
    assert HUB_TOKEN not in result.out + result.err


def test_files_already_in_the_hub_cache_are_adopted(hub_pull, hub_server: FakeHub,
                                                     isolated_env: Path):
    hf_hub_download("org/tiny", "model.safetensors", endpoint=hub_server.url,
                    cache_dir=hf_cache(isolated_env), token=False)
    hub_server.clear_log()
    result = hub_pull("hf:org/tiny/model.safetensors", "--json")
    assert result.code == 0, result.err
    assert result.json["results"][0]["bytes_downloaded"] == 0
    assert lfs_gets(hub_server) == []


def test_resets_mid_download_still_give_verified_files(hub_pull, hub_server: FakeHub):
    hub_server.faults.resets = 3
    hub_server.faults.reset_after = 20_000
    result = hub_pull("hf:org/tiny", "--include", "*.safetensors", "--json")
    assert result.code == 0, result.err
    files = {f["path"]: f["sha256"] for f in result.json["results"][0]["files"]}
    for path, sha in files.items():
        data = hub_server.file("org/tiny", path).data
        assert sha == hashlib.sha256(data).hexdigest()  # type: ignore[arg-type]


@pytest.mark.parametrize("ref, words", [
    ("hf:org/gated", "gated"), ("hf:org/tiny@nope", "revision nope not found"),
    ("hf:org/tiny/nope.bin", "no file nope.bin")])
def test_errors_are_one_line_and_exit_1(hub_pull, ref: str, words: str):
    result = hub_pull(ref)
    assert result.code == 1
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_dry_run_lists_without_downloading(hub_pull, hub_server: FakeHub):
    result = hub_pull("hf:org/tiny", "--dry-run", "--include", "*.json", "--json")
    assert result.code == 0, result.err
    assert "config.json" in result.out and "unet/config.json" in result.out
    assert [r for r in hub_server.log if "/resolve/" in r.path or "/lfs/" in r.path] == []


def test_offline_pull_of_a_missing_model_opens_no_connection(hub_pull, hub_server: FakeHub,
                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    result = hub_pull("hf:org/tiny")
    assert result.code == 1 and "offline" in result.err
    assert hub_server.log == []


@pytest.mark.parametrize("ref, revision, expect", [
    ("hf:org/tiny@refs/pr/1", "refs/pr/1", "pr.json"),
    ("hf:org/tiny@v1.0/unet", "v1.0", "unet/config.json"),
])
def test_revisions_and_subfolders_land_in_the_hub_cache(hub_pull, hub_server: FakeHub,
                                                        isolated_env: Path, ref: str,
                                                        revision: str, expect: str):
    result = hub_pull(ref, "--json")
    assert result.code == 0, result.err
    commit = hub_server.repos["org/tiny"].refs[revision]
    cache = hf_cache(isolated_env)
    path = hf_hub_download("org/tiny", expect, revision=revision, cache_dir=cache,
                           local_files_only=True)
    assert Path(path).read_bytes() == hub_server.file("org/tiny", expect, commit).data
    assert f"/snapshots/{commit}/" in path


def test_a_pull_does_not_load_the_hub_clients_100_ms_api_module(hub_server: FakeHub,
                                                                  isolated_env: Path):
    """``huggingface_hub.hf_api`` (HfApi) imports ~80-100 ms of modules a pull never uses
    (inference endpoints, jobs, Spaces, repo cards): a fresh ``pull hf:`` process — the start-up
    a user waits for — resolves a repo and a subfolder without it."""
    code = ("import json, sys\n"
            "from modelshelf.cli.main import main\n"
            "codes = [main(['pull', 'hf:org/tiny']), main(['pull', 'hf:org/tiny/unet'])]\n"
            "print(json.dumps([codes, 'huggingface_hub.hf_api' in sys.modules]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_ENDPOINT": hub_server.url})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == [[0, 0], False]
    assert (Path(os.environ["HF_HOME"]) / "hub" / "models--org--tiny").is_dir()
